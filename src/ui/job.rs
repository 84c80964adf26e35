//! Work a dialog hands to a short-lived thread (send a signal and wait, write a file), so the
//! window never waits for the OS: started with a way to wake the window, shown as a spinner
//! while it runs, and polled each frame for its result.

use std::sync::mpsc::{self, Receiver, TryRecvError};

/// A piece of work running on its own thread, ending in a `T`.
#[derive(Debug)]
pub(crate) struct Job<T> {
    result: Receiver<T>,
}

impl<T: Send + 'static> Job<T> {
    /// Run `work` on a thread named `name`; `wake` is called when it is done.
    pub fn spawn(
        name: &str,
        wake: impl Fn() + Send + 'static,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> std::io::Result<Job<T>> {
        let (tx, result) = mpsc::channel();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let _ = tx.send(work());
                wake();
            })?;
        Ok(Job { result })
    }

    /// The result, once the work is done. `Err` when the thread ended without one (a bug in
    /// the work: it panicked).
    pub fn poll(&self) -> Option<Result<T, String>> {
        match self.result.try_recv() {
            Ok(result) => Some(Ok(result)),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                Some(Err("the work stopped without a result".to_owned()))
            }
        }
    }
}

/// What a job calls when it is done: a repaint of the window, so the result shows at once.
pub(crate) fn waker(ctx: &egui::Context) -> impl Fn() + Send + 'static {
    let ctx = ctx.clone();
    move || ctx.request_repaint()
}

/// A spinner and what is being waited for.
pub(crate) fn progress_ui(ui: &mut egui::Ui, what: &str) {
    ui.horizontal(|ui| {
        ui.spinner();
        ui.label(what);
    });
}

/// Why a job failed, in the error colour, and a *Close* button. Returns whether the dialog stays
/// open.
pub(crate) fn failure_ui(ui: &mut egui::Ui, message: &str) -> bool {
    ui.add(
        egui::Label::new(egui::RichText::new(message).color(ui.visuals().error_fg_color)).wrap(),
    );
    !ui.button("Close").clicked()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    fn wait<T: Send + 'static>(job: &Job<T>) -> Result<T, String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(r) = job.poll() {
                return r;
            }
            assert!(Instant::now() < deadline, "the job never ended");
            std::thread::yield_now();
        }
    }

    #[test]
    fn a_job_hands_back_its_result_and_wakes_the_window() {
        let woken = Arc::new(AtomicBool::new(false));
        let flag = woken.clone();
        let job = Job::spawn(
            "test-job",
            move || flag.store(true, Ordering::SeqCst),
            || 42,
        )
        .unwrap();
        assert_eq!(wait(&job), Ok(42));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !woken.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "never woken");
            std::thread::yield_now();
        }
    }

    #[test]
    fn a_job_that_panics_says_so_instead_of_spinning_forever() {
        let job: Job<u8> = Job::spawn("test-job", || {}, || panic!("boom")).unwrap();
        assert!(wait(&job).is_err());
    }
}
