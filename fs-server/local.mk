# fs-server/: the filesystem protocol's server (README.md).  The guest
# agent compiles it in (guestrpc/local.mk: guestrpcd is static); hostrpcd's
# fs service will link it too.
EXTRA_DIST += fs-server/README.md
