# fugue shell integration for sh (dash, ash, bash as sh), read through $ENV: reads the
# user's $ENV file, then puts a command-finished mark with the status (OSC 133 D) first in
# the prompt.
if [ -n "${FUGUE_ENV-}" ]; then
    ENV=$FUGUE_ENV
    unset FUGUE_ENV
    if [ -r "$ENV" ]; then . "$ENV"; fi
else
    unset ENV
fi
PS1="$(printf '\033]133;D;')\$?$(printf '\007')${PS1-\$ }"
PS2="$(printf '\033]133;A;k=s\007')${PS2-> }"
