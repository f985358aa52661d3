package store

// rsyncTempSuffixLen is the length of the random suffix rsync appends to
// the temporary names it writes before renaming (mkstemp's XXXXXX).
const rsyncTempSuffixLen = 6

// finalName maps a temporary file name written by a copy tool to the name
// the file will be renamed to: rsync writes ".NAME.XXXXXX" (a dot, the
// final name, a dot, six random letters or digits). Other names come back
// unchanged with ok false.
func finalName(name string) (final string, ok bool) {
	n := len(name)
	if n < 1+1+1+rsyncTempSuffixLen || name[0] != '.' || name[n-rsyncTempSuffixLen-1] != '.' {
		return name, false
	}
	for i := n - rsyncTempSuffixLen; i < n; i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return name, false
		}
	}
	final = name[1 : n-rsyncTempSuffixLen-1]
	if !validName(final) {
		return name, false
	}
	return final, true
}

// finalPath applies finalName to the last component of a clean path.
func finalPath(p string) (string, bool) {
	final, ok := finalName(baseName(p))
	if !ok {
		return p, false
	}
	return joinPath(parentOf(p), final), true
}
