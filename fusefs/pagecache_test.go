package fusefs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Flags of /proc/kpageflags (Documentation/admin-guide/mm/pagemap.rst).
const (
	kpfCompoundHead = 1 << 15
	kpfCompoundTail = 1 << 16
	pagemapPresent  = 1 << 63
	pagemapPFNMask  = 1<<55 - 1
)

// pageSink keeps the loads that map pages from being optimised away.
var pageSink byte

// cacheLayout describes how much of a file the page cache holds and in
// which folios.
type cacheLayout struct {
	Pages    int // pages of the file
	Resident int // pages in the page cache (mincore)
	Small    int // pages held in order-0 (4 KiB) folios; -1 if unknown
}

func (l cacheLayout) String() string {
	s := fmt.Sprintf("%d/%d pages cached", l.Resident, l.Pages)
	if l.Small >= 0 {
		s += fmt.Sprintf(", %.1f%% in 4 KiB folios", 100*float64(l.Small)/float64(l.Pages))
	}
	return s
}

// pageCacheLayout reports which pages of path the page cache holds and, when
// /proc/kpageflags is readable (root), how many are in order-0 folios. It
// maps the file and touches every page to learn their frames, so pages not
// cached before the call are read in (Resident is measured first).
func pageCacheLayout(path string) (cacheLayout, error) {
	l := cacheLayout{Small: -1}
	f, err := os.Open(path)
	if err != nil {
		return l, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return l, err
	}
	if fi.Size() == 0 {
		return l, nil
	}
	pageSize := os.Getpagesize()
	l.Pages = int((fi.Size() + int64(pageSize) - 1) / int64(pageSize))
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return l, fmt.Errorf("mmap %s: %w", path, err)
	}
	defer unix.Munmap(m)
	vec := make([]byte, l.Pages)
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		return l, fmt.Errorf("mincore %s: %w", path, errno)
	}
	for _, v := range vec {
		l.Resident += int(v & 1)
	}

	for i := 0; i < len(m); i += pageSize {
		pageSink += m[i] // map the page (pagemap reports mapped pages only)
	}
	small, err := smallFolioPages(m, pageSize)
	if err != nil {
		return l, nil // frames unreadable without privilege: folios unknown
	}
	l.Small = small
	return l, nil
}

// smallFolioPages counts the pages of the mapped (and touched) region m that
// are not part of a compound page, from /proc/self/pagemap and
// /proc/kpageflags.
func smallFolioPages(m []byte, pageSize int) (int, error) {
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		return 0, err
	}
	defer pm.Close()
	kf, err := os.Open("/proc/kpageflags")
	if err != nil {
		return 0, err
	}
	defer kf.Close()
	pages := (len(m) + pageSize - 1) / pageSize
	entries := make([]byte, 8*pages)
	start := int64(uintptr(unsafe.Pointer(&m[0])) / uintptr(pageSize) * 8)
	if _, err := pm.ReadAt(entries, start); err != nil {
		return 0, fmt.Errorf("pagemap: %w", err)
	}
	small := 0
	var flags [8]byte
	for i := range pages {
		e := binary.LittleEndian.Uint64(entries[8*i:])
		pfn := e & pagemapPFNMask
		if e&pagemapPresent == 0 || pfn == 0 {
			return 0, errors.New("page frame numbers hidden")
		}
		if _, err := kf.ReadAt(flags[:], int64(pfn)*8); err != nil && err != io.EOF {
			return 0, fmt.Errorf("kpageflags: %w", err)
		}
		if binary.LittleEndian.Uint64(flags[:])&(kpfCompoundHead|kpfCompoundTail) == 0 {
			small++
		}
	}
	return small, nil
}

// cacheInSmallPages drops path from the page cache and reads it back with
// read-ahead off in 4 KiB reads, so that the kernel caches it in order-0
// folios, as FUSE does (Linux 6.18's FUSE enables no large folios).
func cacheInSmallPages(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fd := int(f.Fd())
	if err := f.Sync(); err != nil { // only clean pages can be dropped
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	if err := unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("fadvise %s: %w", path, err)
	}
	if err := unix.Fadvise(fd, 0, 0, unix.FADV_RANDOM); err != nil {
		return fmt.Errorf("fadvise %s: %w", path, err)
	}
	buf := make([]byte, os.Getpagesize())
	for {
		_, err := f.Read(buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	}
}

// TestPageCacheLayout checks the benchmark's page-cache helpers on a plain
// file: cacheInSmallPages leaves it fully cached, in 4 KiB folios where the
// frames can be inspected.
func TestPageCacheLayout(t *testing.T) {
	for _, size := range []int{1, 4096, 3<<20 + 17} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(path, make([]byte, size), 0o644); err != nil {
				t.Fatal(err)
			}
			pages := (size + os.Getpagesize() - 1) / os.Getpagesize()
			// Another test process may drop the page cache between the
			// two steps (benchmarks and memory tests do): try again then.
			var l cacheLayout
			for range 3 {
				if err := cacheInSmallPages(path); err != nil {
					t.Fatal(err)
				}
				var err error
				if l, err = pageCacheLayout(path); err != nil {
					t.Fatal(err)
				}
				if l.Resident == pages {
					break
				}
			}
			if l.Pages != pages || l.Resident != pages {
				t.Fatalf("layout %v, want %d pages, all cached", l, pages)
			}
			if l.Small >= 0 && l.Small != pages {
				t.Fatalf("layout %v, want every page in a 4 KiB folio", l)
			}
			t.Log(l)
		})
	}
}
