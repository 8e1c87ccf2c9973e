file(REMOVE_RECURSE
  "libtapegrad.a"
)
