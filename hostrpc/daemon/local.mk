# hostrpc/daemon: see Makefile.am
