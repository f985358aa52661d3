package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"deltafs/delta"
	"deltafs/npy"
)

// mapStagedMin is the size from which a stable staged file is mapped
// rather than read.
const mapStagedMin = 1 << 20

// sourceFile is the file an ingest stores, read a range at a time: never
// held in memory whole. A stable file (IngestOptions.Stable) of
// mapStagedMin bytes or more is mapped, so its pages are the page cache's
// and not the process's own memory.
type sourceFile struct {
	f      *os.File
	size   int64
	mapped []byte // the whole file, when mapped
	stable bool
}

// openSource prepares f, whatever its file offset, for an ingest. The
// caller must close the result once nothing reads it.
func openSource(f *os.File, stable bool) (*sourceFile, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", f.Name())
	}
	size := st.Size()
	if size < 0 || int64(int(size)) != size {
		return nil, fmt.Errorf("%s: size %d out of range", f.Name(), size)
	}
	src := &sourceFile{f: f, size: size, stable: stable}
	if stable && size >= mapStagedMin {
		if m, err := mapFile(f, size); err == nil {
			src.mapped = m
		}
	}
	return src, nil
}

// close unmaps a mapped file; nothing from section may be used afterwards.
func (s *sourceFile) close() {
	if s.mapped != nil {
		unmapFile(s.mapped)
		s.mapped = nil
	}
}

// section returns the bytes [off, off+n) of the file as a source the
// encoder reads chunk by chunk: in place when mapped, else with pread.
func (s *sourceFile) section(off, n int64) io.ReaderAt {
	if s.mapped != nil {
		return delta.BytesSource(s.mapped[off : off+n])
	}
	return io.NewSectionReader(s.f, off, n)
}

// input returns the bytes [off, off+n) of the file, hashed as sum, as the
// data of the tensor t (dtype, shape and order set) for encodeTensor.
func (s *sourceFile) input(off, n int64, t delta.StreamTensor, sum sectionSum) *input {
	t.Data, t.SHA256 = s.section(off, n), &sum.sum
	in := &input{t: t, name: s.f.Name(), sum: sum}
	if s.mapped != nil {
		in.view = s.mapped[off : off+n]
	}
	return in
}

// head returns the first bytes of the file: its .npy header whole when its
// prefix announces one that fits in the file, else up to peekSize bytes.
func (s *sourceFile) head() ([]byte, error) {
	n := min(s.size, peekSize)
	prefix := make([]byte, min(s.size, contentPrefixLen))
	if err := s.readAt(prefix, 0); err != nil {
		return nil, err
	}
	if off, err := npy.DataOffset(prefix); err == nil && off <= s.size {
		n = max(n, off)
	}
	b := make([]byte, n)
	if err := s.readAt(b, 0); err != nil {
		return nil, err
	}
	return b, nil
}

// peekSize is how much of a file head reads when it is not an .npy.
const peekSize = 4096

// readAt fills b from off; reading short is an error (the file shrank).
func (s *sourceFile) readAt(b []byte, off int64) error {
	if err := readFull(s.section(0, s.size), b, off); err != nil {
		return fmt.Errorf("read %s: %w", s.f.Name(), err)
	}
	return nil
}

// readFull fills b from r at off; reading short is io.ErrUnexpectedEOF.
func readFull(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// checkUnchanged refuses a file whose size changed since openSource: it
// would be stored short.
func (s *sourceFile) checkUnchanged() error {
	st, err := s.f.Stat()
	if err != nil {
		return err
	}
	if st.Size() != s.size {
		return fmt.Errorf("%s changed size while being stored", s.f.Name())
	}
	return nil
}

// sum returns the hash of the bytes [off, size) of the file: the caller's
// (given) when it covers them, else computed in a pass over the file.
func (s *sourceFile) sum(ctx context.Context, off int64, given *ContentSum, chunk int64) (sectionSum, error) {
	if given.covers(off, s.size) {
		return sectionSum{sum: given.Sum, chunk: chunk}, nil
	}
	return s.hashSection(ctx, off, s.size-off, chunk)
}

// hashPiece is how much hashSection reads at once.
const hashPiece = 4 << 20

// sectionSum is the hash of a section of a source file and, for a file
// others may change, the CRC32C of each of its chunks: the check of the
// object against the file compares them with what it reads then, so a file
// changed between the hash and the encoding is refused, not stored under
// another content's hash.
type sectionSum struct {
	sum   [32]byte
	chunk int64    // bytes per chunk of crcs
	crcs  []uint32 // nil: the file is stable, nothing to compare
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// hashSection hashes the bytes [off, off+n) of the file, and unless it is
// stable (or chunk is 0) takes the CRC32C of every chunk of chunk bytes.
func (s *sourceFile) hashSection(ctx context.Context, off, n, chunk int64) (sectionSum, error) {
	return s.hashSectionTo(ctx, off, n, chunk, nil)
}

// hashSectionTo is hashSection, also writing the bytes it reads to also
// (unless nil): a hash of a longer section fed in the same pass.
func (s *sourceFile) hashSectionTo(ctx context.Context, off, n, chunk int64, also io.Writer) (sectionSum, error) {
	out := sectionSum{chunk: chunk}
	if s.mapped != nil {
		out.sum = sha256.Sum256(s.mapped[off : off+n])
		if also != nil {
			also.Write(s.mapped[off : off+n])
		}
		return out, nil
	}
	piece := int64(hashPiece)
	if !s.stable && n > 0 && chunk > 0 {
		out.crcs = make([]uint32, 0, (n-1)/chunk+1)
		piece = max(hashPiece/chunk, 1) * chunk
	}
	h := sha256.New()
	buf := make([]byte, min(piece, n))
	for pos := int64(0); pos < n; pos += piece {
		if err := ctx.Err(); err != nil {
			return sectionSum{}, err
		}
		b := buf[:min(piece, n-pos)]
		if err := s.readAt(b, off+pos); err != nil {
			return sectionSum{}, err
		}
		h.Write(b)
		if also != nil {
			also.Write(b)
		}
		if out.crcs != nil {
			for c := int64(0); c < int64(len(b)); c += chunk {
				out.crcs = append(out.crcs, crc32.Checksum(b[c:min(c+chunk, int64(len(b)))], castagnoli))
			}
		}
	}
	h.Sum(out.sum[:0])
	return out, nil
}

// checkChunk compares the CRC32C of data, the chunk starting at off as the
// file holds it now, with the one taken when the file was hashed.
func (ss *sectionSum) checkChunk(off int64, data []byte) error {
	if ss.crcs == nil {
		return nil
	}
	i := off / ss.chunk
	if off%ss.chunk != 0 || i >= int64(len(ss.crcs)) {
		return fmt.Errorf("chunk at %d does not match the hashed chunks", off)
	}
	if crc32.Checksum(data, castagnoli) != ss.crcs[i] {
		return errSourceChanged
	}
	return nil
}

// errSourceChanged: the file changed while it was being stored.
var errSourceChanged = errors.New("the file changed while being stored")
