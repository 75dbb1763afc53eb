# guestsource/: hostrpc-guestmount, hostrpc-guest-exec
