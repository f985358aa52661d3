package analysis

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// DictConfig tunes TrainDictionary. The zero value uses the defaults.
type DictConfig struct {
	// Size is the dictionary content size in bytes (default 32 KiB; at
	// least 256, at most 1 MiB).
	Size int
	// SegmentSize is the length of the pieces the content is built from
	// (default 32 bytes).
	SegmentSize int
	// ID is the zstd dictionary ID; 0 derives one from the content.
	ID uint32
}

// Dictionary is a trained zstd dictionary with a ready encoder and decoder.
// Safe for concurrent use.
type Dictionary struct {
	raw []byte
	id  uint32

	encOnce sync.Once
	enc     *zstd.Encoder
	encErr  error

	mu   sync.Mutex
	decs map[int]*zstd.Decoder // by output limit class
}

// dictGram is the n-gram length used to score content.
const dictGram = 4

// TrainDictionary builds a zstd dictionary from samples, typically the
// small tensors of one model: the dictionary content is the set of segments
// whose 4-byte n-grams occur in the most samples (a simplified COVER
// selection), most valuable last (closest to the data, cheapest offsets);
// zstd's entropy tables are then fitted to the samples with zstd.BuildDict.
func TrainDictionary(samples [][]byte, cfg DictConfig) (*Dictionary, error) {
	if cfg.Size == 0 {
		cfg.Size = 32 << 10
	}
	if cfg.Size < 256 || cfg.Size > 1<<20 {
		return nil, fmt.Errorf("analysis: dictionary size %d outside 256..1 MiB", cfg.Size)
	}
	if cfg.SegmentSize == 0 {
		cfg.SegmentSize = 32
	}
	if cfg.SegmentSize < dictGram || cfg.SegmentSize > cfg.Size {
		return nil, fmt.Errorf("analysis: segment size %d outside %d..%d", cfg.SegmentSize, dictGram, cfg.Size)
	}
	var nonEmpty [][]byte
	total := 0
	for _, s := range samples {
		if len(s) >= dictGram {
			nonEmpty = append(nonEmpty, s)
			total += len(s)
		}
	}
	if len(nonEmpty) < 2 {
		return nil, errors.New("analysis: need at least two samples of 8 bytes or more")
	}
	content := selectContent(nonEmpty, cfg.Size, cfg.SegmentSize)
	if len(content) < 8 {
		return nil, errors.New("analysis: samples too small for a dictionary")
	}
	id := cfg.ID
	if id == 0 {
		// IDs below 32768 are reserved for registered dictionaries.
		id = 32768 + crc32.ChecksumIEEE(content)%(1<<31-32768)
	}
	raw, err := zstd.BuildDict(zstd.BuildDictOptions{
		ID:       id,
		Contents: nonEmpty,
		History:  content,
		Offsets:  [3]int{1, 4, 8},
		Level:    zstd.SpeedBetterCompression,
	})
	if err != nil {
		return nil, fmt.Errorf("analysis: building dictionary: %w", err)
	}
	return &Dictionary{raw: raw, id: id}, nil
}

// selectContent picks up to size bytes of segments from samples, scored by
// how many samples share their n-grams.
func selectContent(samples [][]byte, size, seg int) []byte {
	// Document frequency of each n-gram (hashed), counted once per sample.
	freq := make(map[uint64]int32)
	seen := make(map[uint64]struct{})
	for _, s := range samples {
		clear(seen)
		for i := 0; i+dictGram <= len(s); i++ {
			g := gramAt(s, i)
			if _, ok := seen[g]; !ok {
				seen[g] = struct{}{}
				freq[g]++
			}
		}
	}
	type segment struct {
		sample, off int
		score       int64
	}
	var segs []segment
	for si, s := range samples {
		for off := 0; off+seg <= len(s); off += seg {
			var sc int64
			for i := off; i+dictGram <= off+seg; i++ {
				if f := freq[gramAt(s, i)]; f > 1 {
					sc += int64(f - 1)
				}
			}
			if sc > 0 {
				segs = append(segs, segment{si, off, sc})
			}
		}
	}
	slices.SortStableFunc(segs, func(a, b segment) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return 0
	})
	// Greedy: take segments best first, skipping exact duplicates.
	var picked [][]byte
	have := make(map[string]struct{})
	used := 0
	for _, sg := range segs {
		if used+seg > size {
			break
		}
		piece := samples[sg.sample][sg.off : sg.off+seg]
		if _, dup := have[string(piece)]; dup {
			continue
		}
		have[string(piece)] = struct{}{}
		picked = append(picked, piece)
		used += seg
	}
	// Most valuable last: zstd prefers short offsets into the dictionary's end.
	var content []byte
	for i := len(picked) - 1; i >= 0; i-- {
		content = append(content, picked[i]...)
	}
	return content
}

// gramAt returns the dictGram bytes at s[i:] as an integer.
func gramAt(s []byte, i int) uint64 {
	var g uint64
	for k := 0; k < dictGram; k++ {
		g |= uint64(s[i+k]) << (8 * k)
	}
	return g
}

// LoadDictionary wraps a dictionary made by TrainDictionary (Bytes).
func LoadDictionary(raw []byte) (*Dictionary, error) {
	if len(raw) < 8 || !bytes.Equal(raw[:4], []byte{0x37, 0xa4, 0x30, 0xec}) {
		return nil, fmt.Errorf("%w: not a zstd dictionary", ErrCorrupt)
	}
	id := binary.LittleEndian.Uint32(raw[4:])
	d := &Dictionary{raw: slices.Clone(raw), id: id}
	// Validate by building a decoder now.
	if _, err := d.decoder(1 << 20); err != nil {
		return nil, err
	}
	return d, nil
}

// Bytes returns the dictionary in zstd's format (for storing).
func (d *Dictionary) Bytes() []byte { return slices.Clone(d.raw) }

// ID returns the zstd dictionary ID.
func (d *Dictionary) ID() uint32 { return d.id }

func (d *Dictionary) encoder() (*zstd.Encoder, error) {
	d.encOnce.Do(func() {
		d.enc, d.encErr = zstd.NewWriter(nil,
			zstd.WithEncoderDict(d.raw),
			zstd.WithEncoderLevel(zstd.SpeedBetterCompression),
			zstd.WithAllLitEntropyCompression(true),
			zstd.WithEncoderCRC(false),
			zstd.WithEncoderConcurrency(1))
	})
	return d.enc, d.encErr
}

// decoder returns a decoder whose output is capped at limit (rounded up to
// a power of two, one decoder per class).
func (d *Dictionary) decoder(limit int) (*zstd.Decoder, error) {
	class := 1 << 10
	for class < limit {
		class <<= 1
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if dec, ok := d.decs[class]; ok {
		return dec, nil
	}
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderDicts(d.raw),
		zstd.WithDecoderMaxMemory(uint64(class)),
		zstd.WithDecodeAllCapLimit(true),
		zstd.WithDecoderConcurrency(0))
	if err != nil {
		return nil, fmt.Errorf("%w: dictionary: %w", ErrCorrupt, err)
	}
	if d.decs == nil {
		d.decs = make(map[int]*zstd.Decoder)
	}
	d.decs[class] = dec
	return dec, nil
}

// CompressWithDictionary compresses data as one zstd frame that refers to
// d; it needs the same dictionary to decode.
func CompressWithDictionary(d *Dictionary, data []byte) ([]byte, error) {
	enc, err := d.encoder()
	if err != nil {
		return nil, fmt.Errorf("analysis: dictionary encoder: %w", err)
	}
	return enc.EncodeAll(data, nil), nil
}

// DecompressWithDictionary decodes CompressWithDictionary's output. The
// output may not exceed maxSize bytes; malformed input or a frame made
// with another dictionary yields an error wrapping ErrCorrupt.
func DecompressWithDictionary(d *Dictionary, enc []byte, maxSize int) ([]byte, error) {
	if maxSize < 0 {
		return nil, fmt.Errorf("analysis: negative size limit")
	}
	var h zstd.Header
	if err := h.Decode(enc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if h.DictionaryID != 0 && h.DictionaryID != d.id {
		return nil, fmt.Errorf("%w: frame needs dictionary %d, have %d", ErrCorrupt, h.DictionaryID, d.id)
	}
	if h.HasFCS && h.FrameContentSize > uint64(maxSize) {
		return nil, fmt.Errorf("%w: frame of %d bytes exceeds the %d-byte limit", ErrCorrupt, h.FrameContentSize, maxSize)
	}
	dec, err := d.decoder(maxSize)
	if err != nil {
		return nil, err
	}
	limit := maxSize
	if h.HasFCS {
		limit = int(h.FrameContentSize)
	}
	out, err := dec.DecodeAll(enc, make([]byte, 0, limit))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if len(out) > maxSize {
		return nil, fmt.Errorf("%w: output exceeds %d bytes", ErrCorrupt, maxSize)
	}
	return out, nil
}
