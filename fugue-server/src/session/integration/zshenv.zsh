# fugue shell integration for zsh: ZDOTDIR points here until .zshrc, so that zsh reads
# these files, each of which reads the user's own from the user's ZDOTDIR (or home).
__fugue_dir=$ZDOTDIR
ZDOTDIR=${FUGUE_ZDOTDIR:-$HOME}
unset FUGUE_ZDOTDIR
[[ -f $ZDOTDIR/.zshenv ]] && source $ZDOTDIR/.zshenv
__fugue_zdotdir=$ZDOTDIR
ZDOTDIR=$__fugue_dir
