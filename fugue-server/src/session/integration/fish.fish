# fugue shell integration for fish, run with `fish --init-command` after the user's
# configuration: marks each command's start (OSC 133 C) and end with its status (D).
if not set -q __fugue_marks
    set -g __fugue_marks 1
    function __fugue_preexec --on-event fish_preexec
        printf '\e]133;C\a'
    end
    function __fugue_postexec --on-event fish_postexec
        printf '\e]133;D;%s\a' $status
    end
end
# fish marks a command's end after it runs, so one mark now says, before any command has
# run, that this shell marks them (`fugue run` then types commands as they are).
printf '\e]133;D;0\a'
