# fugue shell integration for bash, read with `bash --rcfile` in place of ~/.bashrc, which
# it reads first. Marks each command's start (OSC 133 C, from PS0) and end with its status
# (D, first in PROMPT_COMMAND, which then sees the same $?). Terminals ignore the marks.
if [ -f ~/.bashrc ]; then . ~/.bashrc; fi
if [ -z "${__fugue_marks-}" ]; then
    __fugue_marks=1
    __fugue_prompt() {
        local status=$?
        printf '\033]133;D;%s\007\033]133;A\007' "$status"
        return "$status"
    }
    if [[ "$(declare -p PROMPT_COMMAND 2>/dev/null)" == "declare -a"* ]]; then
        PROMPT_COMMAND=(__fugue_prompt "${PROMPT_COMMAND[@]}")
    else
        PROMPT_COMMAND="__fugue_prompt${PROMPT_COMMAND:+; $PROMPT_COMMAND}"
    fi
    PS0="${PS0-}"$'\e]133;C\a'
    # A secondary prompt says the line was not a whole command (`fugue run` cancels it).
    PS2='\[\e]133;A;k=s\a\]'"${PS2-> }"
fi
