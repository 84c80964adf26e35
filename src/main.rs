use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match portscope::cli::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match cli.command {
        Some(command) => portscope::cli::run(command),
        None => portscope::ui::run_window(
            cli.generated.map(|n| {
                portscope::collect::GeneratedSource::new(n as usize)
                    .with_churn(cli.churn.unwrap_or(0))
            }),
            cli.host,
        ),
    }
}
