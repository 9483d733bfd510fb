# fugue shell integration for zsh (login shells): the user's .zprofile.
ZDOTDIR=$__fugue_zdotdir
[[ -f $ZDOTDIR/.zprofile ]] && source $ZDOTDIR/.zprofile
__fugue_zdotdir=$ZDOTDIR
ZDOTDIR=$__fugue_dir
