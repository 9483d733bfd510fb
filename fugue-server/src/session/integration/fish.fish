# fugue shell integration for fish, run with `fish --init-command` after the user's
# configuration: marks each command's start (OSC 133 C) and end with its status (D, after
# it runs, before fish marks a missing newline). A prompt that follows no command (the
# first, or one after a line fish could not parse) marks an end too, which tells
# `fugue run` from the start that this shell marks its commands.
if not set -q __fugue_marks
    set -g __fugue_marks 1
    function __fugue_preexec --on-event fish_preexec
        printf '\e]133;C\a'
    end
    function __fugue_postexec --on-event fish_postexec
        printf '\e]133;D;%s\a' $status
        set -g __fugue_ended 1
    end
    function __fugue_prompt --on-event fish_prompt
        set -l last $status
        if not set -q __fugue_ended
            printf '\e]133;D;%s\a' $last
        end
        set -e __fugue_ended
    end
end
