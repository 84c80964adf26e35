# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_portscope_global_optspecs
    string join \n generated= churn= host= h/help V/version
end

function __fish_portscope_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_portscope_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_portscope_using_subcommand
    set -l cmd (__fish_portscope_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c portscope -n "__fish_portscope_needs_command" -l generated -d 'Open the window on N made-up sockets instead of this machine\'s (to try it at scale)' -r
complete -c portscope -n "__fish_portscope_needs_command" -l churn -d 'With --generated: at every poll, replace this percentage of the made-up connections' -r
complete -c portscope -n "__fish_portscope_needs_command" -l host -d 'List a host\'s sockets in the window beside this machine\'s, read over ssh (user@server or an ssh alias); repeat for several. Hosts are remembered (Hosts… removes them)' -r
complete -c portscope -n "__fish_portscope_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c portscope -n "__fish_portscope_needs_command" -s V -l version -d 'Print version'
complete -c portscope -n "__fish_portscope_needs_command" -f -a "list" -d 'List the machine\'s TCP and UDP sockets with their owning processes'
complete -c portscope -n "__fish_portscope_needs_command" -f -a "who" -d 'Show the process(es) holding a local port. Exits 1 when nothing holds it'
complete -c portscope -n "__fish_portscope_needs_command" -f -a "explain" -d 'Explain what a port number means and what is on it now'
complete -c portscope -n "__fish_portscope_needs_command" -f -a "kill" -d 'End the processes listening on a port (asks first unless --yes). Exits 1 when nothing listens there'
complete -c portscope -n "__fish_portscope_needs_command" -f -a "close" -d 'Close the TCP connections and listener on a port, or at one end ADDR:PORT (asks first unless --yes; needs root). Exits 1 when there is none'
complete -c portscope -n "__fish_portscope_needs_command" -f -a "check" -d 'Find servers listening inside the ephemeral range, where the OS may take their port; prints each with the remedy. Exits 1 when there is one'
complete -c portscope -n "__fish_portscope_needs_command" -f -a "free" -d 'Print ports a new service can take: unused, outside the ephemeral range, not registered with IANA, each checked by binding it. Exits 1 when fewer than asked'
complete -c portscope -n "__fish_portscope_needs_command" -f -a "watch" -d 'Print every connection that opens or closes, one line each, until Ctrl+C — even one that lives a millisecond (Linux), with its final byte counts'
complete -c portscope -n "__fish_portscope_needs_command" -f -a "helper" -d 'Answer the window\'s polls with what only root may see (started by the window through pkexec; not for direct use)'
complete -c portscope -n "__fish_portscope_needs_command" -f -a "serve" -d 'Stream this machine\'s sockets on standard output, framed, for a portscope that reads this host over ssh (`list --host`); controls come on standard input'
complete -c portscope -n "__fish_portscope_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c portscope -n "__fish_portscope_using_subcommand list" -s p -l port -d 'Only sockets with this port at either end' -r
complete -c portscope -n "__fish_portscope_using_subcommand list" -l sort -d 'Sort by a column, ascending, or descending with \':desc\' (e.g. \'port\', \'pid:desc\', \'process\', \'rtt\'). Default: by local port' -r
complete -c portscope -n "__fish_portscope_using_subcommand list" -l color -d 'Colour the table: \'auto\' on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c portscope -n "__fish_portscope_using_subcommand list" -l interval -d 'With --watch: seconds between tables' -r
complete -c portscope -n "__fish_portscope_using_subcommand list" -l host -d 'List this host\'s sockets instead, over ssh (user@server, or an alias from ~/.ssh/config; repeat for several). Every record gets a \'host\' field. Runs \'portscope serve --stdio\' there, or reads \'ss\' where portscope is not installed' -r
complete -c portscope -n "__fish_portscope_using_subcommand list" -l width -d 'The width to fit the table in, as if the terminal were that wide (for tests)' -r
complete -c portscope -n "__fish_portscope_using_subcommand list" -l json -d 'Print one JSON array'
complete -c portscope -n "__fish_portscope_using_subcommand list" -l csv -d 'Print CSV with a header row'
complete -c portscope -n "__fish_portscope_using_subcommand list" -s l -l listening -d 'Only listening TCP sockets and unconnected UDP sockets'
complete -c portscope -n "__fish_portscope_using_subcommand list" -s t -l tcp -d 'Only TCP sockets'
complete -c portscope -n "__fish_portscope_using_subcommand list" -s u -l udp -d 'Only UDP sockets'
complete -c portscope -n "__fish_portscope_using_subcommand list" -s A -l all-namespaces -d 'Sockets of every network namespace (containers, \'ip netns\'), not only portscope\'s own: all of them as root, the namespaces of your own processes otherwise'
complete -c portscope -n "__fish_portscope_using_subcommand list" -l no-header -d 'Leave out the heading row of the table'
complete -c portscope -n "__fish_portscope_using_subcommand list" -l watch -d 'Redraw the table every interval until Ctrl+C (when not a terminal: one table per interval, separated by a blank line)'
complete -c portscope -n "__fish_portscope_using_subcommand list" -s h -l help -d 'Print help'
complete -c portscope -n "__fish_portscope_using_subcommand who" -l json -d 'Print JSON: the port, its sockets and their processes'
complete -c portscope -n "__fish_portscope_using_subcommand who" -s h -l help -d 'Print help'
complete -c portscope -n "__fish_portscope_using_subcommand explain" -l udp -d 'Explain the UDP port (default: TCP)'
complete -c portscope -n "__fish_portscope_using_subcommand explain" -l sctp -d 'Explain the SCTP port (IANA\'s SCTP entries)'
complete -c portscope -n "__fish_portscope_using_subcommand explain" -l dccp -d 'Explain the DCCP port (IANA\'s DCCP entries)'
complete -c portscope -n "__fish_portscope_using_subcommand explain" -l json -d 'Print JSON'
complete -c portscope -n "__fish_portscope_using_subcommand explain" -s h -l help -d 'Print help'
complete -c portscope -n "__fish_portscope_using_subcommand kill" -l pid -d 'End this one process, by its PID, instead of the listeners on a port. Exits 1 when there is no such process' -r
complete -c portscope -n "__fish_portscope_using_subcommand kill" -l started -d 'With --pid: only if the process started at this time (seconds since the Unix epoch, as `list --json` shows it), so that a process which took over the PID meanwhile is spared' -r
complete -c portscope -n "__fish_portscope_using_subcommand kill" -s s -l signal -d 'The signal to send' -r -f -a "TERM\t'SIGTERM: ask the process to end'
KILL\t'SIGKILL: end it at once'"
complete -c portscope -n "__fish_portscope_using_subcommand kill" -l host -d 'On another machine, over ssh (the portscope installed there does it)' -r
complete -c portscope -n "__fish_portscope_using_subcommand kill" -s t -l tcp -d 'Only processes listening on the TCP port'
complete -c portscope -n "__fish_portscope_using_subcommand kill" -s u -l udp -d 'Only processes bound to the UDP port'
complete -c portscope -n "__fish_portscope_using_subcommand kill" -s y -l yes -d 'Do not ask'
complete -c portscope -n "__fish_portscope_using_subcommand kill" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c portscope -n "__fish_portscope_using_subcommand close" -l cookie -d 'Only the socket with this cookie (the kernel\'s socket ID, as `list --json` shows it)' -r
complete -c portscope -n "__fish_portscope_using_subcommand close" -l host -d 'On another machine, over ssh (the portscope installed there does it)' -r
complete -c portscope -n "__fish_portscope_using_subcommand close" -s y -l yes -d 'Do not ask'
complete -c portscope -n "__fish_portscope_using_subcommand close" -s h -l help -d 'Print help'
complete -c portscope -n "__fish_portscope_using_subcommand check" -l json -d 'Print JSON: the ephemeral range, how full it is, and each server at risk with its remedy'
complete -c portscope -n "__fish_portscope_using_subcommand check" -s h -l help -d 'Print help'
complete -c portscope -n "__fish_portscope_using_subcommand free" -s n -l count -d 'How many ports to find (1–1000)' -r
complete -c portscope -n "__fish_portscope_using_subcommand free" -l near -d 'Search outward from this port (default: upward from 1024)' -r
complete -c portscope -n "__fish_portscope_using_subcommand free" -s t -l tcp -d 'Ports free for TCP (the default)'
complete -c portscope -n "__fish_portscope_using_subcommand free" -s u -l udp -d 'Ports free for UDP'
complete -c portscope -n "__fish_portscope_using_subcommand free" -l json -d 'Print a JSON array of port numbers'
complete -c portscope -n "__fish_portscope_using_subcommand free" -s h -l help -d 'Print help'
complete -c portscope -n "__fish_portscope_using_subcommand watch" -l interval -d 'Seconds between polls, which find the connections that opened' -r
complete -c portscope -n "__fish_portscope_using_subcommand watch" -l event-buffer -d 'The kernel-side buffer for close announcements, in bytes (for tests of a flood)' -r
complete -c portscope -n "__fish_portscope_using_subcommand watch" -l json -d 'Print one JSON object per line (NDJSON): the socket\'s `list --json` record plus `event`, `time`, `lifetime_ms` and `seen_by_poll`'
complete -c portscope -n "__fish_portscope_using_subcommand watch" -s A -l all-namespaces -d 'Connections of every network namespace (containers, \'ip netns\'), not only portscope\'s own: all of them as root, the namespaces of your own processes otherwise'
complete -c portscope -n "__fish_portscope_using_subcommand watch" -s h -l help -d 'Print help'
complete -c portscope -n "__fish_portscope_using_subcommand helper" -s h -l help -d 'Print help'
complete -c portscope -n "__fish_portscope_using_subcommand serve" -l interval -d 'Seconds between polls (the reader may change it)' -r
complete -c portscope -n "__fish_portscope_using_subcommand serve" -l generated -r
complete -c portscope -n "__fish_portscope_using_subcommand serve" -l churn -r
complete -c portscope -n "__fish_portscope_using_subcommand serve" -l stdio -d 'Write to standard output and read controls from standard input (the only transport)'
complete -c portscope -n "__fish_portscope_using_subcommand serve" -s h -l help -d 'Print help'
complete -c portscope -n "__fish_portscope_using_subcommand help; and not __fish_seen_subcommand_from list who explain kill close check free watch helper serve help" -f -a "list" -d 'List the machine\'s TCP and UDP sockets with their owning processes'
complete -c portscope -n "__fish_portscope_using_subcommand help; and not __fish_seen_subcommand_from list who explain kill close check free watch helper serve help" -f -a "who" -d 'Show the process(es) holding a local port. Exits 1 when nothing holds it'
complete -c portscope -n "__fish_portscope_using_subcommand help; and not __fish_seen_subcommand_from list who explain kill close check free watch helper serve help" -f -a "explain" -d 'Explain what a port number means and what is on it now'
complete -c portscope -n "__fish_portscope_using_subcommand help; and not __fish_seen_subcommand_from list who explain kill close check free watch helper serve help" -f -a "kill" -d 'End the processes listening on a port (asks first unless --yes). Exits 1 when nothing listens there'
complete -c portscope -n "__fish_portscope_using_subcommand help; and not __fish_seen_subcommand_from list who explain kill close check free watch helper serve help" -f -a "close" -d 'Close the TCP connections and listener on a port, or at one end ADDR:PORT (asks first unless --yes; needs root). Exits 1 when there is none'
complete -c portscope -n "__fish_portscope_using_subcommand help; and not __fish_seen_subcommand_from list who explain kill close check free watch helper serve help" -f -a "check" -d 'Find servers listening inside the ephemeral range, where the OS may take their port; prints each with the remedy. Exits 1 when there is one'
complete -c portscope -n "__fish_portscope_using_subcommand help; and not __fish_seen_subcommand_from list who explain kill close check free watch helper serve help" -f -a "free" -d 'Print ports a new service can take: unused, outside the ephemeral range, not registered with IANA, each checked by binding it. Exits 1 when fewer than asked'
complete -c portscope -n "__fish_portscope_using_subcommand help; and not __fish_seen_subcommand_from list who explain kill close check free watch helper serve help" -f -a "watch" -d 'Print every connection that opens or closes, one line each, until Ctrl+C — even one that lives a millisecond (Linux), with its final byte counts'
complete -c portscope -n "__fish_portscope_using_subcommand help; and not __fish_seen_subcommand_from list who explain kill close check free watch helper serve help" -f -a "helper" -d 'Answer the window\'s polls with what only root may see (started by the window through pkexec; not for direct use)'
complete -c portscope -n "__fish_portscope_using_subcommand help; and not __fish_seen_subcommand_from list who explain kill close check free watch helper serve help" -f -a "serve" -d 'Stream this machine\'s sockets on standard output, framed, for a portscope that reads this host over ssh (`list --host`); controls come on standard input'
complete -c portscope -n "__fish_portscope_using_subcommand help; and not __fish_seen_subcommand_from list who explain kill close check free watch helper serve help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
