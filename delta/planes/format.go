package planes

// Block layout constants; docs/FORMAT.md section 8 describes the bytes.
const (
	formatVersion = 1

	// modePlain: every (plane, class) stream is coded on its own.
	modePlain = 0

	headerSize = 3 // version, mode, segLog

	// A stream is cut into segments of at most 1<<segLog bytes, each coded
	// independently. 1<<17 stays below huff0's single-block limit.
	defaultSegLog = 17
	minSegLog     = 10
	maxSegLog     = 17
)

// method identifies how one segment is stored.
type method byte

const (
	methodRaw    method = 0 // the segment's bytes
	methodConst  method = 1 // one byte repeated
	methodHuff1X method = 2 // uvarint length, huff0 table + single stream
	methodHuff4X method = 3 // uvarint length, huff0 table + four streams
	methodFSE    method = 4 // uvarint length, FSE block
	methodZstd   method = 5 // uvarint length, zstd frame(s)
	methodSparse method = 6 // uvarint length, fill byte + exceptions (sparse.go)
)

func (m method) String() string {
	switch m {
	case methodRaw:
		return "raw"
	case methodConst:
		return "const"
	case methodHuff1X:
		return "huff0-1x"
	case methodHuff4X:
		return "huff0-4x"
	case methodFSE:
		return "fse"
	case methodZstd:
		return "zstd"
	case methodSparse:
		return "sparse"
	}
	return "unknown"
}
