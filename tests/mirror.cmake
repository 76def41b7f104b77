# The mirror's state machine, without a server.
vecmirror_test(mirror_test mirror_test.cc LIBS vecmirror_mirror)
