// Package diskcache is a byte-bounded on-disk cache of ranges of immutable
// objects, for a host reading objects from a remote store: what one read
// fetched, later reads on the same host find on the local disk, across
// restarts.
//
// An object is cut into fixed-size blocks (Options.BlockSize, 4 MiB by
// default; the last one shorter); a block is fetched whole, once, and kept
// as one file:
//
//	DIR/deltafs-diskcache   format line: version and block size
//	DIR/lock                flock-ed by the one process using DIR
//	DIR/ab/<id>.<index>     block <index> (decimal) of object <id> ("ab": its first two characters)
//	DIR/tmp/                blocks being written, renamed into place when complete
//
// A block file is the block's bytes, then a CRC32C (Castagnoli) of each
// 64 KiB segment of them, then a 16-byte trailer: the CRC32C of the
// block's name, the CRC table and the rest of the trailer (so a file
// holding another block's bytes fails too), the bytes' length, the
// segment size, and the magic "dfc2"; all little-endian. A hit reads the
// table and trailer and only the segments it needs, and checks them; a
// file that fails (a torn write, a flipped bit, a truncation) is counted,
// removed and fetched again: corrupt bytes are never served.
//
// The bound (Options.Size, DefaultSize by default) counts block files'
// bytes; past it the least recently used blocks go. Recency is the files'
// modification times (a hit touches its file), so Open rebuilds the index
// and its order from the directory alone. A block that several readers need
// at once is fetched once (single-flight) and the others wait for it; one
// ReadAt that spans several missing blocks fetches up to Options.Parallel of
// them at once.
//
// One process uses a directory at a time: Open takes an flock on DIR/lock and
// fails with ErrLocked (which matches fault.Busy) while another holds it.
//
// The cache retries nothing itself: the fetch function it is given does
// (and times out); a failed fetch is returned to every reader waiting for
// that block and nothing is kept, so the next read fetches again.
package diskcache
