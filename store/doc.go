// Package store is deltafs's core: it ingests files (encoding tensors
// against their model's base) and reconstructs them on read, chunk by chunk
// through a shared cache. It is the only package that ties catalog, delta
// and cache together; the mount (fusefs) and the command line use exactly
// this API, and branch only on the names it exports (names.go, errors.go).
//
// # The write pipeline
//
// Every file enters through Ingest (the mount, at a file's last close) or
// Import (a directory or an .npz, a few files at a time); both end in
// ingestLocked (ingest.go), stage by stage:
//
//  1. Policy. The settings of the file's model are resolved: the defaults
//     of the original design, then the store's and the model's (kept in the
//     catalog, deltafs config), then the command's (settings.go); with the
//     strategy asked for they make the file's policy (policy.go).
//  2. Open and classify. The staged file is mapped when the caller vouches
//     it is stable (the mount's staging files), else read with pread, a
//     range at a time: no stage holds the file in memory (source.go). From
//     its first bytes a valid .npy is a tensor, a safetensors file is split
//     into its tensors (safetensors.go), anything else is an opaque blob
//     (classify.go).
//  3. Hash. The content hash is the mount's (a ContentHasher hashed it as
//     it was written, contenthash.go) or taken in a pass over the file,
//     with the CRC32C of every chunk of a file others may change.
//  4. Deduplicate. A file whose content is stored already (same content
//     hash, kind, dtype and shape) shares that object.
//  5. Reference. The tensor's reference is the base's tensor at the same
//     path, else its only tensor of that file name, else its most similar
//     tensor of that dtype and shape (similar.go: sketches of a few
//     windows, kept per object); the encoder reads it chunk by chunk,
//     decoded as it goes (objectSource), the cache untouched.
//  6. Encode. encodeTensor (encode.go) carries out the policy's steps:
//     policy.next names the form to try (delta, standalone, verbatim) or to
//     keep, by the sizes measured so far and the settings max_delta_ratio,
//     min_compression_ratio and min_weight_size. Each form is encoded a
//     chunk at a time (delta.EncodeTo) into a temporary object file.
//  7. Verify and write. The kept object is hashed and renamed into place
//     (PutFile) while every chunk of it is decoded and compared with the
//     file (keep); an encoding that fails its check counts as failed and
//     the policy names the next; a file changed since it was hashed is
//     refused.
//  8. Commit. The object record and the entry go into the catalog in one
//     transaction (commit): until then, a crash leaves only an unreferenced
//     object file, which the next open (recover.go) or GC removes.
//
// # The read path
//
// Open returns a File answered from the catalog alone (namespace.go);
// ReadAt (file.go) maps the byte range to chunks of the object
// (reconstruct.go): each chunk comes from the cache (chunkKey: object and
// chunk index; objects are immutable, so entries never go stale) or is
// decoded once, however many readers ask at the same time. A chunk stored
// as a delta first reads the same range of its reference the same way,
// recursively, up to MaxChainDepth links. Opened object files stay in a
// small LRU (handles.go); decoded buffers are recycled once no reader holds
// them (recycle.go); sequential readers get a read-ahead (prefetch.go).
// Corrupt data is never served: a chunk failing its checksum is ErrCorrupt.
//
// # Locks
//
//   - The marker file is flock-ed shared by every open store, so GC, which
//     takes it exclusively, runs only with the store to itself (ErrBusy).
//   - Each writable open has a session: a staging directory and a lock file
//     flock-ed exclusively (session.go); a free lock marks a dead process,
//     whose leftovers the next open recovers (recover.go).
//   - updateMu serialises this process's catalog transactions (SQLite
//     admits one writer); the catalog's own busy timeout orders processes.
//   - gcMu: ingests and mutations hold it for reading, GC for writing, so
//     GC never deletes an object an ingest has written and not committed.
//   - largeIngests bounds the ingests of large files running at once (CPU:
//     each encodes on every core), prefetchSem the read-aheads.
//
// # Files
//
//	doc.go          this manual
//	store.go        Store, Options, Open, Close, runtime counters
//	layout.go       the store directory, Init, the marker lock
//	session.go      a writable open's staging directory and lock
//	recover.go      what dead processes left: finished or removed
//	pending.go      write-back files recorded before they are stored
//	settings.go     the settings (knobs), their layers and sources
//	policy.go       the one decision: delta, standalone or verbatim
//	ingest.go       Ingest: staged file to committed entry
//	source.go       the staged file, mapped or read a range at a time
//	encode.go       carrying out the policy: encode, verify, keep
//	reference.go    finding a tensor's reference by path and name
//	tempname.go     copy tools' temporary names, matched by the final name
//	similar.go      ... and by similarity (sketches)
//	classify.go     .npy, safetensors or blob
//	safetensors.go  safetensors files, tensor by tensor
//	contenthash.go  hashing content as it is written
//	import.go       Import: directories and .npz archives
//	export.go       Export: back to ordinary files
//	analyze.go      Analyze, AnalyzeFiles: what every strategy would store
//	paths.go        virtual paths: cleaning and joining
//	namespace.go    Stat, ReadDir, FileInfo
//	mutate.go       Mkdir, Rename, SetBase
//	attr.go         modes, owners and times
//	ops.go          RemoveAll, Progress
//	file.go         File: lazy reads
//	reconstruct.go  chunks through the cache, references recursively
//	handles.go      opened object files
//	recycle.go      decoded-chunk buffers
//	mem_*.go        prefaulting new chunk buffers (Linux)
//	prefetch.go     sequential read-ahead
//	verify.go       Verify: every object decoded and checked
//	gc.go           GC: unreferenced objects and stale staging files
//	stats.go        Stats: logical and stored bytes
//	names.go        kinds, strategies and encoder names for callers
//	errors.go       PathError and the sentinels callers branch on
package store
