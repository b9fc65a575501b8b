"""The live keys, one table for `livestyle webcam --help` and the help overlay (no torch here,
so `--help` starts at once)."""

KEY_HELP = """\
  1-9      pick style N of --styles (morphs over about half a second)
  b        blend mode on/off: in blend mode 1-9 pick the second style
  [ ]      move the blend towards the first / second style
  + -      strength up / down (0 = camera image, 1 = full style)
  c        colour preservation on/off
  t        temporal coherence on/off
  space    slow automatic cycle through the styles on/off
  o        overlay (style mix, fps, latency) on/off
  i        side-by-side input on/off
  s        snapshot to PNG
  r        start / stop recording
  h        help overlay
  q, Esc   quit
"""
