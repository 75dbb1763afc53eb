# guestrpc/: guest agent guestrpcd + host-side Guest RPC client library
