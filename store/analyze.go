package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"deltafs/catalog"
	"deltafs/delta"
	"deltafs/delta/analysis"
	"deltafs/npy"
	"deltafs/safetensors"
)

// Analysis: for a tensor, the statistics of its delta against its
// reference, the stored size every strategy would give (measured by
// encoding a sample, analysis.Recommend), the recommendation, and what the
// store's policy chose (a stored file) or would choose (a plain file). Only
// the sampled ranges of a tensor (and of its reference) are read.

type (
	// DeltaStats are the statistics of a delta (analysis.DeltaStats).
	DeltaStats = analysis.DeltaStats
	// StrategyEstimate is one strategy's measured outcome
	// (analysis.Candidate).
	StrategyEstimate = analysis.Candidate
)

// AnalyzeOptions configure Analyze and AnalyzeFiles.
type AnalyzeOptions struct {
	// Against is what to compare with instead of each tensor's reference:
	// a file, or a directory whose files pair with the analyzed ones by
	// relative path (a store path for Analyze, a file system path for
	// AnalyzeFiles).
	Against string
	// AllowLossy lets a lossy strategy be recommended.
	AllowLossy bool
	// SampleBytes bounds the bytes of each tensor encoded (default 4 MiB).
	SampleBytes int
	Settings    Overrides
	Progress    Progress // reports raw bytes analyzed
}

// TensorAnalysis is the analysis of one tensor.
type TensorAnalysis struct {
	Path string
	// Reference is what the tensor was compared with ("" none: the
	// statistics then describe the tensor alone); ReferenceBy says how it
	// was found: "against" (given), or "path", "name", "similarity" (the
	// store's choice), "stored" (the reference of a stored delta recorded
	// before the choice was kept).
	Reference   string
	ReferenceBy string
	Similarity  float64 // ReferenceBy "similarity"
	DType       string
	Shape       []int64
	RawSize     int64
	Stats       *DeltaStats
	Estimates   []StrategyEstimate // eligible ones by size, then the others
	Recommended Strategy
	Reason      string
	Auto        AutoChoice
	// Skipped says why a file was not analyzed (not a tensor); the other
	// fields are then empty.
	Skipped string
}

// AutoChoice is what the store's policy chose for a tensor: for a stored
// file what it holds, for a plain file what an import would store
// (estimated from the sample).
type AutoChoice struct {
	Form       string // "delta", "standalone" or "verbatim"
	Strategy   string
	StoredSize int64
	Estimated  bool // StoredSize is an estimate, not a stored file's size
}

// tensorSource is a tensor to analyze: its header and its data section.
type tensorSource struct {
	name string
	h    npy.Header
	data io.ReaderAt
	raw  int64
}

// Analyze analyzes the tensor at path, or every tensor under it (a
// directory or a model), against its reference or opts.Against.
func (s *Store) Analyze(ctx context.Context, path string, opts AnalyzeOptions) ([]TensorAnalysis, error) {
	p, err := cleanPath(path)
	if err != nil {
		return nil, &PathError{Op: "analyze", Path: path, Err: err}
	}
	entries, err := s.catalog.Walk(ctx, p)
	if err == nil && len(entries) == 0 {
		err = ErrNotFound
	}
	if err != nil {
		return nil, &PathError{Op: "analyze", Path: p, Err: err}
	}
	against := ""
	if opts.Against != "" {
		if against, err = cleanPath(opts.Against); err == nil {
			_, err = s.catalog.Get(ctx, against)
		}
		if err != nil {
			return nil, &PathError{Op: "analyze", Path: opts.Against, Err: err}
		}
	}
	var files []catalog.Entry
	var total int64
	for _, e := range entries {
		if e.Kind != catalog.KindDir {
			files = append(files, e)
			total += e.Size
		}
	}
	var out []TensorAnalysis
	var done int64
	opts.Progress.report(0, total)
	for _, e := range files {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if parts, err := s.catalog.Parts(ctx, e.Path); err != nil {
			return out, &PathError{Op: "analyze", Path: e.Path, Err: err}
		} else if len(parts) > 0 {
			tas, err := s.analyzeParts(ctx, e, parts, p, against, opts)
			out = append(out, tas...)
			if err != nil {
				return out, &PathError{Op: "analyze", Path: e.Path, Err: err}
			}
		} else {
			ta, err := s.analyzeEntry(ctx, e, p, against, opts)
			if err != nil {
				return out, &PathError{Op: "analyze", Path: e.Path, Err: err}
			}
			out = append(out, ta)
		}
		done += e.Size
		opts.Progress.report(done, total)
	}
	return out, nil
}

// analyzeEntry analyzes the file e (found under root); against is the
// store path to compare with ("" its reference).
func (s *Store) analyzeEntry(ctx context.Context, e catalog.Entry, root, against string, opts AnalyzeOptions) (TensorAnalysis, error) {
	if e.Kind != catalog.KindTensor {
		return TensorAnalysis{Path: e.Path, Skipped: "not a tensor (" + e.Kind.String() + ")"}, nil
	}
	src, err := s.storeSource(ctx, e.Path)
	if err != nil {
		return TensorAnalysis{}, err
	}
	pol, err := s.policyFor(ctx, e.Path, "", false, opts.Settings)
	if err != nil {
		return TensorAnalysis{}, err
	}
	fi, err := s.Stat(ctx, e.Path)
	if err != nil {
		return TensorAnalysis{}, err
	}
	var (
		refPath, by string
		sim         float64
	)
	switch {
	case against != "":
		refPath, by = against, "against"
		if rel := strings.TrimPrefix(strings.TrimPrefix(e.Path, root), "/"); e.Path != root {
			refPath = joinPath(against, rel)
		}
	case fi.Base != "" && !strings.HasPrefix(fi.Base, "object:"):
		refPath, by, sim = fi.Base, fi.BaseMatch, fi.BaseSimilarity
		if by == "" {
			by = "stored"
		}
	default:
		m, err := s.findReference(ctx, e.Path, src.h, src.data, src.raw, nil, pol)
		if err != nil {
			return TensorAnalysis{}, err
		}
		if m != nil {
			refPath, by, sim = m.entry.Path, m.how, m.similarity
		}
	}
	var ref *tensorSource
	if refPath != "" {
		r, err := s.storeSource(ctx, refPath)
		if errors.Is(err, ErrNotFound) && by == "against" && e.Path != root {
			refPath, by = "", "" // nothing at the same relative path
		} else if err != nil {
			return TensorAnalysis{}, fmt.Errorf("reference %s: %w", refPath, err)
		} else {
			ref = &r
		}
	}
	ta, err := analyzeTensor(pol, src, ref, opts)
	if err != nil {
		return TensorAnalysis{}, err
	}
	ta.ReferenceBy, ta.Similarity = by, sim
	ta.Auto = AutoChoice{Form: storedForm(fi), Strategy: fi.Strategy, StoredSize: fi.StoredSize}
	return ta, nil
}

// analyzeParts analyzes each tensor of a file stored tensor by tensor (a
// safetensors file), found under root, each named FILE:TENSOR: against the
// tensor of the same name in the file at the same relative path under
// against when it is given, else against its stored reference, else
// against the base's tensor of that name an import would take.
func (s *Store) analyzeParts(ctx context.Context, e catalog.Entry, parts []catalog.Part, root, against string, opts AnalyzeOptions) ([]TensorAnalysis, error) {
	pol, err := s.policyFor(ctx, e.Path, "", false, opts.Settings)
	if err != nil {
		return nil, err
	}
	model, _ := splitModel(e.Path)
	names, err := s.tensorNameIndex(ctx, model, nil)
	if err != nil {
		return nil, err
	}
	againstFile := ""
	if against != "" {
		againstFile = against
		if rel := strings.TrimPrefix(strings.TrimPrefix(e.Path, root), "/"); e.Path != root {
			againstFile = joinPath(against, rel)
		}
	}
	out := make([]TensorAnalysis, 0, len(parts))
	for _, pt := range parts {
		name := e.Path + partSep + pt.Name
		src, err := s.storeSource(ctx, name)
		if err != nil {
			return out, err
		}
		rec, err := s.catalog.Object(ctx, pt.Object)
		if err != nil {
			return out, fmt.Errorf("%s: %w", name, err)
		}
		var refPath, by string
		switch {
		case againstFile != "":
			refPath, by = againstFile+partSep+pt.Name, "against"
		case rec.Ref != "" && !strings.HasPrefix(names.pathOf(pt.Name, rec.Ref), "object:"):
			refPath, by = names.pathOf(pt.Name, rec.Ref), rec.RefMatch
			if by == "" {
				by = "stored"
			}
		default:
			if ref := names.lookup(e.Path, pt.Name, "", pt.DType, src.h.DType, pt.Shape); ref != nil {
				refPath, by = ref.Path, "name"
			}
		}
		var ref *tensorSource
		if refPath != "" {
			r, err := s.storeSource(ctx, refPath)
			switch {
			case errors.Is(err, ErrNotFound) && by == "against":
				refPath, by = "", "" // no tensor of that name there
			case err != nil:
				return out, fmt.Errorf("%s: reference %s: %w", name, refPath, err)
			default:
				ref = &r
			}
		}
		ta, err := analyzeTensor(pol, src, ref, opts)
		if err != nil {
			return out, err
		}
		ta.ReferenceBy = by
		ta.DType = pt.DType // the file's name for it (BF16 is encoded as 16-bit words)
		form := formStandalone.String()
		switch {
		case rec.Ref != "":
			form = formDelta.String()
		case rec.Strategy == string(delta.Float32Raw):
			form = formVerbatim.String()
		}
		ta.Auto = AutoChoice{Form: form, Strategy: rec.Strategy, StoredSize: rec.StoredSize}
		out = append(out, ta)
	}
	return out, nil
}

// storedForm names the form a stored file has.
func storedForm(fi FileInfo) string {
	switch {
	case fi.Base != "":
		return formDelta.String()
	case fi.Strategy == string(delta.Float32Raw):
		return formVerbatim.String()
	}
	return formStandalone.String()
}

// storeSource opens the tensor file at p, or the tensor of a file stored
// tensor by tensor when p is FILE:TENSOR.
func (s *Store) storeSource(ctx context.Context, p string) (tensorSource, error) {
	if file, tensor, ok := splitPartPath(p); ok {
		return s.partSource(ctx, p, file, tensor)
	}
	e, err := s.catalog.Get(ctx, p)
	if err != nil {
		return tensorSource{}, err
	}
	if e.Kind != catalog.KindTensor {
		return tensorSource{}, fmt.Errorf("%s: not a tensor", p)
	}
	dt, err := npy.ParseDescr(e.DType)
	if err != nil {
		return tensorSource{}, err
	}
	h := npy.Header{DType: dt, Shape: e.Shape, Fortran: e.Fortran}
	raw, err := h.DataSize()
	if err != nil {
		return tensorSource{}, err
	}
	f, err := s.Open(ctx, p)
	if err != nil {
		return tensorSource{}, err
	}
	return tensorSource{name: p, h: h, data: io.NewSectionReader(f, f.Size()-raw, raw), raw: raw}, nil
}

// partSep separates a file's path from the name of one of its tensors.
const partSep = ":"

// splitPartPath splits FILE:TENSOR at the first separator that follows a
// safetensors file name.
func splitPartPath(p string) (file, tensor string, ok bool) {
	for i := 0; i < len(p); i++ {
		if strings.HasPrefix(p[i:], partSep) && isSafetensorsName(p[:i]) {
			return p[:i], p[i+len(partSep):], true
		}
	}
	return "", "", false
}

// partSource opens tensor of the safetensors file at file; p names both.
func (s *Store) partSource(ctx context.Context, p, file, tensor string) (tensorSource, error) {
	parts, err := s.catalog.Parts(ctx, file)
	if err != nil {
		return tensorSource{}, err
	}
	i := slices.IndexFunc(parts, func(pt catalog.Part) bool { return pt.Name == tensor })
	if i < 0 {
		return tensorSource{}, fmt.Errorf("%s: no tensor %q: %w", file, tensor, ErrNotFound)
	}
	pt := parts[i]
	dt, ok := stObjectDTypes[safetensors.DType(pt.DType)]
	if !ok {
		return tensorSource{}, fmt.Errorf("%s: dtype %s is not analyzed", p, pt.DType)
	}
	f, err := s.Open(ctx, file)
	if err != nil {
		return tensorSource{}, err
	}
	h := npy.Header{DType: dt, Shape: pt.Shape}
	return tensorSource{name: p, h: h, data: io.NewSectionReader(f, pt.Offset, pt.Size), raw: pt.Size}, nil
}

// AnalyzeFiles analyzes .npy files outside a store: file, or every .npy
// file under a directory, against opts.Against (a file, or a directory
// whose files pair by relative path; "" none), with the default settings
// under opts.Settings.
func AnalyzeFiles(ctx context.Context, file string, opts AnalyzeOptions) ([]TensorAnalysis, error) {
	set := DefaultSettings()
	for k, v := range opts.Settings {
		if err := set.Set(k, v); err != nil {
			return nil, err
		}
	}
	pol, err := newPolicy(set, delta.DefaultConfig(), "", false)
	if err != nil {
		return nil, err
	}
	files, total, err := npyFiles(file)
	if err != nil {
		return nil, err
	}
	var (
		out  []TensorAnalysis
		done int64
	)
	opts.Progress.report(0, total)
	for _, rel := range files {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		ta, err := analyzeFile(pol, file, rel, opts)
		if err != nil {
			return out, err
		}
		out = append(out, ta)
		done += ta.RawSize
		opts.Progress.report(done, total)
	}
	return out, nil
}

// npyFiles lists root ("" relative name) or the .npy files under it, and
// their total size.
func npyFiles(root string) ([]string, int64, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, 0, err
	}
	if !st.IsDir() {
		return []string{""}, st.Size(), nil
	}
	var (
		out   []string
		total int64
	)
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".npy") {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out = append(out, rel)
		total += info.Size()
		return nil
	})
	slices.Sort(out)
	return out, total, err
}

// analyzeFile analyzes root/rel against opts.Against (paired by rel).
func analyzeFile(pol policy, root, rel string, opts AnalyzeOptions) (TensorAnalysis, error) {
	name := filepath.Join(root, rel)
	src, closeSrc, err := fileSource(name)
	if err != nil {
		return TensorAnalysis{Path: name, Skipped: err.Error()}, nil
	}
	defer closeSrc()
	var ref *tensorSource
	if opts.Against != "" {
		rname := filepath.Join(opts.Against, rel)
		r, closeRef, err := fileSource(rname)
		switch {
		case err == nil:
			defer closeRef()
			ref = &r
		case rel == "" || !errors.Is(err, fs.ErrNotExist):
			return TensorAnalysis{}, fmt.Errorf("analyze %s against %s: %w", name, rname, err)
		}
	}
	ta, err := analyzeTensor(pol, src, ref, opts)
	if err != nil {
		return TensorAnalysis{}, fmt.Errorf("analyze %s: %w", name, err)
	}
	if ref != nil {
		ta.ReferenceBy = "against"
	}
	ta.Auto, err = predictAuto(pol, src, ref, opts)
	return ta, err
}

// fileSource opens the .npy file name.
func fileSource(name string) (tensorSource, func(), error) {
	f, err := os.Open(name)
	if err != nil {
		return tensorSource{}, nil, err
	}
	h, raw, err := npy.ReadHeader(f)
	if err == nil {
		var size int64
		if size, err = h.DataSize(); err == nil {
			var st os.FileInfo
			if st, err = f.Stat(); err == nil && st.Size() != int64(len(raw))+size {
				err = fmt.Errorf("%s: %d bytes, its header says %d", name, st.Size(), int64(len(raw))+size)
			}
			if err == nil {
				return tensorSource{name: name, h: h, data: io.NewSectionReader(f, int64(len(raw)), size), raw: size}, func() { f.Close() }, nil
			}
		}
	}
	f.Close()
	return tensorSource{}, nil, fmt.Errorf("%s: not a valid .npy file: %w", name, err)
}

// sample reads the sampled ranges of src as a tensor.
func (src tensorSource) sample(ranges [][2]int64, shape []int64) (delta.Tensor, error) {
	data, err := readRanges(src.data, ranges)
	if err != nil {
		return delta.Tensor{}, fmt.Errorf("%s: %w", src.name, err)
	}
	return delta.Tensor{DType: src.h.DType, Shape: shape, Fortran: src.h.Fortran && len(shape) == len(src.h.Shape), Data: data}, nil
}

// analyzeTensor measures src against ref (nil: alone) on a sample.
func analyzeTensor(pol policy, src tensorSource, ref *tensorSource, opts AnalyzeOptions) (TensorAnalysis, error) {
	ta := TensorAnalysis{Path: src.name, DType: src.h.DType.Descr(), Shape: src.h.Shape, RawSize: src.raw}
	if ref != nil {
		if ref.h.DType != src.h.DType || ref.h.Fortran != src.h.Fortran || !slices.Equal(ref.h.Shape, src.h.Shape) {
			return ta, fmt.Errorf("%w: %s is %s %v, %s is %s %v", delta.ErrIncompatibleReference,
				src.name, src.h.DType.Descr(), src.h.Shape, ref.name, ref.h.DType.Descr(), ref.h.Shape)
		}
		ta.Reference = ref.name
	}
	st, sr, err := samplePair(src, ref, opts)
	if err != nil {
		return ta, err
	}
	rec, err := analysis.Recommend(st, sr, analysis.RecommendConfig{
		AllowLossy: opts.AllowLossy && !pol.StrictReconstruction, SampleBytes: sampleBytes(opts),
		Base: &pol.cfg, RawSize: src.raw,
	})
	if rec != nil {
		ta.Stats, ta.Estimates, ta.Recommended, ta.Reason = rec.Stats, rec.Candidates, rec.Best, rec.Reason
	}
	if err != nil && rec == nil {
		return ta, err
	}
	return ta, nil
}

// sampleBytes is the sample size of opts.
func sampleBytes(opts AnalyzeOptions) int {
	if opts.SampleBytes > 0 {
		return opts.SampleBytes
	}
	return analysis.DefaultSampleBytes
}

// samplePair reads the same sample of src and ref (nil stays nil).
func samplePair(src tensorSource, ref *tensorSource, opts AnalyzeOptions) (delta.Tensor, *delta.Tensor, error) {
	ranges, shape := analysis.SampleRanges(src.h.DType.Size, src.h.Shape, src.h.Fortran, src.raw, sampleBytes(opts))
	st, err := src.sample(ranges, shape)
	if err != nil || ref == nil {
		return st, nil, err
	}
	sr, err := ref.sample(ranges, shape)
	return st, &sr, err
}

// predictAuto is what the policy would store for a plain file: the forms it
// asks for, with their sizes estimated on the sample.
func predictAuto(pol policy, src tensorSource, ref *tensorSource, opts AnalyzeOptions) (AutoChoice, error) {
	st, sr, err := samplePair(src, ref, opts)
	if err != nil {
		return AutoChoice{}, err
	}
	estimate := func(f form) (int64, error) {
		var r *delta.Tensor
		if f == formDelta {
			r = sr
		}
		c := pol.encoderConfig(f)
		rec, err := analysis.Recommend(st, r, analysis.RecommendConfig{
			SampleBytes: sampleBytes(opts), Base: &c, RawSize: src.raw, Strategies: standaloneStrategies(c)[:1],
		})
		if err != nil {
			return 0, err
		}
		return rec.Candidates[0].EstimatedSize, nil
	}
	a := attempts{raw: src.raw, hasRef: ref != nil}
	for {
		step, ok := pol.next(a)
		if !ok {
			return AutoChoice{}, errors.New("no form could be estimated")
		}
		t := &a.forms[step.form]
		if step.keep {
			c := pol.encoderConfig(step.form)
			return AutoChoice{Form: step.form.String(), Strategy: string(c.Strategy), StoredSize: t.size, Estimated: true}, nil
		}
		t.done = true
		if size, err := estimate(step.form); err == nil {
			t.ok, t.size = true, size
		}
	}
}
