# fugue shell integration for zsh: the user's .zshrc (ZDOTDIR is the user's from here on),
# then marks for each command's start (OSC 133 C) and end with its status (D). The end
# mark goes first in precmd, and into PROMPT_EOL_MARK, which zsh prints before precmd runs.
ZDOTDIR=$__fugue_zdotdir
[[ -f $ZDOTDIR/.zshrc ]] && source $ZDOTDIR/.zshrc
unset __fugue_dir __fugue_zdotdir
if [[ -z ${__fugue_marks-} ]]; then
    __fugue_marks=1
    __fugue_precmd() { local s=$?; print -n "\e]133;D;$s\a\e]133;A\a"; return $s }
    __fugue_preexec() { print -n "\e]133;C\a" }
    precmd_functions=(__fugue_precmd $precmd_functions)
    preexec_functions+=(__fugue_preexec)
    PROMPT_EOL_MARK="%{"$'\e]133;D;'"%?"$'\a'"%}${PROMPT_EOL_MARK-%B%S%#%s%b}"
    PS2="%{"$'\e]133;A;k=s\a'"%}${PS2-%_> }"
fi
