# drivers-frontend: see Makefile.am
