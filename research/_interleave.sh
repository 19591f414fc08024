# Sourced by the sampling scripts of research/.
# interleave OUT PART...: frame i of every part in turn into OUT (unless OUT is
# there), so that a partly labelled store covers every amplitude or
# temperature.
interleave() {
  [ -f "$1" ] || python -c "
import sys, ase.io
parts = [ase.io.read(p, ':') for p in sys.argv[2:]]
ase.io.write(sys.argv[1], [a for group in zip(*parts) for a in group])
" "$@"
}
