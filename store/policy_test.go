package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"deltafs/delta"
)

// TestPolicyNext walks the policy's decisions for the situations it meets.
func TestPolicyNext(t *testing.T) {
	def := policy{Settings: DefaultSettings()}
	const raw = 1000
	ok := func(size int64) tried { return tried{done: true, ok: true, size: size} }
	failed := tried{done: true}
	cases := []struct {
		name  string
		p     policy
		a     attempts
		want  step
		found bool
	}{
		{"with a reference, try the delta", def, attempts{raw: raw, hasRef: true}, step{form: formDelta}, true},
		{"no reference, try standalone", def, attempts{raw: raw}, step{form: formStandalone}, true},
		{"below min_weight_size, standalone", policy{Settings: Settings{MinWeightSize: raw + 1, MaxDeltaRatio: 1}}, attempts{raw: raw, hasRef: true}, step{form: formStandalone}, true},
		{"a clearly small delta is kept at once", def, attempts{raw: raw, hasRef: true, forms: [numForms]tried{ok(400)}}, step{form: formDelta, keep: true}, true},
		{"a larger delta is compared with standalone", def, attempts{raw: raw, hasRef: true, forms: [numForms]tried{ok(700)}}, step{form: formStandalone}, true},
		{"the smaller delta wins", def, attempts{raw: raw, hasRef: true, forms: [numForms]tried{ok(700), ok(800)}}, step{form: formDelta, keep: true}, true},
		{"the smaller standalone wins", def, attempts{raw: raw, hasRef: true, forms: [numForms]tried{ok(700), ok(600)}}, step{form: formStandalone, keep: true}, true},
		{"a delta over max_delta_ratio is passed over", policy{Settings: Settings{MaxDeltaRatio: 0.3}}, attempts{raw: raw, hasRef: true, forms: [numForms]tried{ok(400), ok(600)}}, step{form: formStandalone, keep: true}, true},
		{"a failed delta: standalone", def, attempts{raw: raw, hasRef: true, forms: [numForms]tried{failed}}, step{form: formStandalone}, true},
		{"no saving: verbatim", def, attempts{raw: raw, forms: [numForms]tried{{}, ok(1010)}}, step{form: formVerbatim}, true},
		{"min_compression_ratio: verbatim", policy{Settings: Settings{MinCompressionRatio: 0.5, MaxDeltaRatio: 1}}, attempts{raw: raw, hasRef: true, forms: [numForms]tried{ok(600), ok(700)}}, step{form: formVerbatim}, true},
		{"verbatim encoded: keep it", def, attempts{raw: raw, forms: [numForms]tried{{}, ok(1010), ok(1020)}}, step{form: formVerbatim, keep: true}, true},
		{"verbatim failed: standalone after all", def, attempts{raw: raw, forms: [numForms]tried{{}, ok(1010), failed}}, step{form: formStandalone, keep: true}, true},
		{"everything failed", def, attempts{raw: raw, hasRef: true, forms: [numForms]tried{failed, failed, failed}}, step{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, found := c.p.next(c.a)
			if got != c.want || found != c.found {
				t.Fatalf("next = %+v, %v; want %+v, %v", got, found, c.want, c.found)
			}
		})
	}
}

// knobCase is one setting and two values of it that store a fine-tuned
// tensor differently; differ checks the difference.
type knobCase struct {
	key        string
	rename     bool // the fine-tune's file has a name the base lacks
	a, b       string
	strategy   string
	allowLossy bool
	differ     func(t *testing.T, a, b knobResult)
}

// knobResult is what one ingest stored.
type knobResult struct {
	fi   FileInfo
	data []byte // read back
	err  error
}

var knobCases = []knobCase{
	{key: KeySimilarityThreshold, a: "0.98", b: "1.5", rename: true,
		differ: func(t *testing.T, a, b knobResult) {
			if a.fi.Base != "b/w.npy" || a.fi.BaseMatch != matchSimilarity || a.fi.BaseSimilarity < 0.98 || b.fi.Base != "" {
				t.Errorf("%q by %q (%v), then %q; want b/w.npy by similarity, then standalone", a.fi.Base, a.fi.BaseMatch, a.fi.BaseSimilarity, b.fi.Base)
			}
		}},
	{key: KeySparseThreshold, a: "1e-6", b: "1", strategy: "sparse", allowLossy: true,
		differ: func(t *testing.T, a, b knobResult) {
			// With every delta below the threshold, the fine-tune comes back
			// as its base.
			if !bytes.Equal(b.data[len(b.data)-len(knobBase):], knobBase) || bytes.Equal(a.data[len(a.data)-len(knobBase):], knobBase) {
				t.Error("sparse_threshold 1 should drop every delta, 1e-6 none")
			}
		}},
	{key: KeyQuantizationBits, a: "8", b: "16", strategy: StrategyQuantized, allowLossy: true,
		differ: func(t *testing.T, a, b knobResult) {
			if a.fi.Strategy != string(delta.Int8Quantized) || b.fi.Strategy != string(delta.Int16Quantized) {
				t.Errorf("strategies %s, %s; want int8_quantized, int16_quantized", a.fi.Strategy, b.fi.Strategy)
			}
		}},
	{key: KeyCompressionLevel, a: "1", b: "9", strategy: string(delta.Compressed),
		differ: func(t *testing.T, a, b knobResult) {
			if b.fi.StoredSize >= a.fi.StoredSize {
				t.Errorf("level 9 stored %d bytes, level 1 %d; want fewer", b.fi.StoredSize, a.fi.StoredSize)
			}
		}},
	{key: KeyMaxDeltaRatio, a: "1", b: "0.01",
		differ: func(t *testing.T, a, b knobResult) {
			if a.fi.Base == "" || b.fi.Base != "" {
				t.Errorf("bases %q, %q; want a delta, then standalone", a.fi.Base, b.fi.Base)
			}
		}},
	{key: KeyMinCompressionRatio, a: "0", b: "0.99",
		differ: func(t *testing.T, a, b knobResult) {
			if a.fi.Base == "" || b.fi.Base != "" || b.fi.Strategy != string(delta.Float32Raw) {
				t.Errorf("%q %s, %q %s; want a delta, then verbatim (float32_raw)", a.fi.Base, a.fi.Strategy, b.fi.Base, b.fi.Strategy)
			}
		}},
	{key: KeyMinWeightSize, a: "512", b: "1000000",
		differ: func(t *testing.T, a, b knobResult) {
			if a.fi.Base == "" || b.fi.Base != "" {
				t.Errorf("bases %q, %q; want a delta, then standalone", a.fi.Base, b.fi.Base)
			}
		}},
	{key: KeyStrictReconstruction, a: "false", b: "true", strategy: string(delta.Int8Quantized), allowLossy: true,
		differ: func(t *testing.T, a, b knobResult) {
			if a.err != nil || !a.fi.Lossy || !errors.Is(b.err, delta.ErrLossyNotAllowed) {
				t.Errorf("lossy %v (%v), then %v; want a lossy file, then the lossy strategy refused", a.fi.Lossy, a.err, b.err)
			}
		}},
}

// knobBase and knobTuned are a base tensor's data and a fine-tune of it.
var (
	knobBase  = f32bytes(weights(71, 16384))
	knobTuned = f32bytes(fineTune(72, weights(71, 16384), 0.3))
)

// knobRoutes are the ways a setting reaches an ingest: import's flag, the
// mount's flag (the store's Options), and the catalog (deltafs config).
var knobRoutes = []struct {
	name   string
	ingest func(t *testing.T, c knobCase, value string) knobResult
}{
	{"import", func(t *testing.T, c knobCase, value string) knobResult {
		s := newStore(t, Options{})
		src := t.TempDir()
		for _, m := range []struct {
			dir  string
			data []byte
		}{{"b", knobBase}, {"f", knobTuned}} {
			if err := os.MkdirAll(filepath.Join(src, m.dir), 0o755); err != nil {
				t.Fatal(err)
			}
			name := "w.npy"
			if m.dir == "f" {
				name = c.name()
			}
			if err := os.WriteFile(filepath.Join(src, m.dir, name), makeNPY(t, "<f4", []int64{16384}, m.data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		ctx := context.Background()
		if _, err := s.Import(ctx, filepath.Join(src, "b"), "b", ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		_, err := s.Import(ctx, filepath.Join(src, "f"), "f", ImportOptions{
			Base: "b", Strategy: delta.Strategy(c.strategy), AllowLossy: c.allowLossy,
			Settings: Overrides{c.key: value},
		})
		return knobRead(t, s, c, err)
	}},
	{"mount", func(t *testing.T, c knobCase, value string) knobResult {
		s := newStoreWithBase(t, Options{Settings: Overrides{c.key: value}})
		return knobIngest(t, s, c)
	}},
	{"config", func(t *testing.T, c knobCase, value string) knobResult {
		s := newStoreWithBase(t, Options{})
		if err := s.SetSetting(context.Background(), "f", c.key, value); err != nil {
			t.Fatal(err)
		}
		return knobIngest(t, s, c)
	}},
}

// knobIngest ingests the base and the fine-tune into models b and f.
func knobIngest(t *testing.T, s *Store, c knobCase) knobResult {
	ingestBytes(t, s, "b/w.npy", makeNPY(t, "<f4", []int64{16384}, knobBase))
	_, err := tryIngest(s, "f/"+c.name(), makeNPY(t, "<f4", []int64{16384}, knobTuned),
		IngestOptions{Strategy: delta.Strategy(c.strategy), AllowLossy: c.allowLossy})
	return knobRead(t, s, c, err)
}

// name is the fine-tune's file name.
func (c knobCase) name() string {
	if c.rename {
		return "renamed.npy"
	}
	return "w.npy"
}

// knobRead returns what the fine-tune's file holds after an ingest that
// returned err.
func knobRead(t *testing.T, s *Store, c knobCase, err error) knobResult {
	if err != nil {
		return knobResult{err: err}
	}
	fi, err := s.Stat(context.Background(), "f/"+c.name())
	if err != nil {
		t.Fatal(err)
	}
	return knobResult{fi: fi, data: readFile(t, s, "f/"+c.name())}
}

// TestKnobs shows that each setting changes what is stored, whichever way
// it is given: import's flag, the mount's, or kept for the model.
func TestKnobs(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range knobCases {
		seen[c.key] = true
		for _, r := range knobRoutes {
			t.Run(c.key+"/"+r.name, func(t *testing.T) {
				a, b := r.ingest(t, c, c.a), r.ingest(t, c, c.b)
				if a.err != nil && c.key != KeyStrictReconstruction {
					t.Fatalf("%s=%s: %v", c.key, c.a, a.err)
				}
				if b.err != nil && c.key != KeyStrictReconstruction {
					t.Fatalf("%s=%s: %v", c.key, c.b, b.err)
				}
				c.differ(t, a, b)
			})
		}
	}
	for _, k := range Knobs() {
		if !seen[k.Name] {
			t.Errorf("setting %s has no case", k.Name)
		}
	}
}

// TestSettingsLayers: a model's setting beats the store's, which beats the
// default; a command's beats them all; removing one restores the layer
// below; bad names and values are refused.
func TestSettingsLayers(t *testing.T) {
	ctx := context.Background()
	s := newStoreWithBase(t, Options{})
	get := func(model string, over Overrides) SettingValue {
		t.Helper()
		vals, err := s.Settings(ctx, model, over)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			if v.Name == KeyCompressionLevel {
				return v
			}
		}
		t.Fatal("compression_level not listed")
		return SettingValue{}
	}
	steps := []struct {
		do    func() error
		model string
		over  Overrides
		want  SettingValue
	}{
		{nil, "f", nil, SettingValue{KeyCompressionLevel, "6", FromDefault}},
		{func() error { return s.SetSetting(ctx, "", KeyCompressionLevel, "3") }, "f", nil, SettingValue{KeyCompressionLevel, "3", FromStore}},
		{func() error { return s.SetSetting(ctx, "f", KeyCompressionLevel, "9") }, "f", nil, SettingValue{KeyCompressionLevel, "9", FromModel}},
		{nil, "b", nil, SettingValue{KeyCompressionLevel, "3", FromStore}},
		{nil, "f", Overrides{KeyCompressionLevel: "1"}, SettingValue{KeyCompressionLevel, "1", FromCommand}},
		{func() error { return s.SetSetting(ctx, "f", KeyCompressionLevel, "") }, "f", nil, SettingValue{KeyCompressionLevel, "3", FromStore}},
		{func() error { return s.Rename(ctx, "b", "b2") }, "b2", nil, SettingValue{KeyCompressionLevel, "3", FromStore}},
	}
	for i, st := range steps {
		if st.do != nil {
			if err := st.do(); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		}
		if got := get(st.model, st.over); got != st.want {
			t.Fatalf("step %d: %+v, want %+v", i, got, st.want)
		}
	}
	// A model's settings follow its renames.
	if err := s.SetSetting(ctx, "b2", KeyMinWeightSize, "4096"); err != nil {
		t.Fatal(err)
	}
	if err := s.Rename(ctx, "b2", "b3"); err != nil {
		t.Fatal(err)
	}
	if vals, _ := s.Settings(ctx, "b3", nil); vals[5] != (SettingValue{KeyMinWeightSize, "4096", FromModel}) {
		t.Errorf("after rename: %+v", vals[5])
	}
	bad := []struct{ model, key, value string }{
		{"", "no_such_knob", "1"},
		{"", KeyCompressionLevel, "10"},
		{"", KeyQuantizationBits, "4"},
		{"", KeyMinCompressionRatio, "1.5"},
		{"", KeyStrictReconstruction, "maybe"},
		{"", KeySparseThreshold, "NaN"},
		{"nosuchmodel", KeyCompressionLevel, "1"},
		{"f/sub", KeyCompressionLevel, "1"},
	}
	for _, b := range bad {
		if err := s.SetSetting(ctx, b.model, b.key, b.value); err == nil {
			t.Errorf("SetSetting(%q, %q, %q) accepted", b.model, b.key, b.value)
		}
	}
	if _, err := tryIngest(s, "f/x.bin", []byte("x"), IngestOptions{Settings: Overrides{KeyCompressionLevel: "0"}}); !errors.Is(err, ErrInvalidSetting) {
		t.Errorf("ingest with a bad override: %v", err)
	}
}

// TestSimilarityReference: a renamed tensor takes the base's most similar
// tensor of its dtype and shape as its reference, not an unrelated one of
// the same shape; the choice is recorded, and the base tensors' sketches
// are kept so the next search reads none of them.
func TestSimilarityReference(t *testing.T) {
	ctx := context.Background()
	s := newStoreWithBase(t, Options{})
	n := 16384
	shape := []int64{int64(n)}
	ingestBytes(t, s, "b/a.npy", makeNPY(t, "<f4", shape, f32bytes(weights(81, n))))
	ingestBytes(t, s, "b/w.npy", makeNPY(t, "<f4", shape, knobBase))
	ingestBytes(t, s, "b/z.npy", makeNPY(t, "<f4", shape, f32bytes(weights(82, n))))
	ingestBytes(t, s, "b/other.npy", makeNPY(t, "<f4", []int64{int64(n / 2), 2}, knobBase))
	fi := ingestBytes(t, s, "f/renamed.npy", makeNPY(t, "<f4", shape, knobTuned))
	if fi.Base != "b/w.npy" || fi.BaseMatch != matchSimilarity || fi.BaseSimilarity < 0.999 || fi.BaseSimilarity > 1 {
		t.Fatalf("reference %q by %q (%v), want b/w.npy by similarity", fi.Base, fi.BaseMatch, fi.BaseSimilarity)
	}
	if !bytes.Equal(readFile(t, s, "f/renamed.npy"), makeNPY(t, "<f4", shape, knobTuned)) {
		t.Fatal("renamed tensor does not read back")
	}
	for _, p := range []string{"b/a.npy", "b/w.npy", "b/z.npy"} {
		e, err := s.catalog.Get(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.catalog.Sketch(ctx, e.Object); err != nil {
			t.Errorf("sketch of %s not kept: %v", p, err)
		}
	}
	// A tensor unlike any in the base stays standalone.
	fi = ingestBytes(t, s, "f/new.npy", makeNPY(t, "<f4", shape, f32bytes(weights(83, n))))
	if fi.Base != "" {
		t.Errorf("unrelated tensor got reference %q (%v)", fi.Base, fi.BaseSimilarity)
	}
	// A name match is still preferred and recorded as such.
	mustMkdir(t, s, "f/sub")
	fi = ingestBytes(t, s, "f/sub/a.npy", makeNPY(t, "<f4", shape, f32bytes(fineTune(84, weights(81, n), 0.3))))
	if fi.Base != "b/a.npy" || fi.BaseMatch != matchName {
		t.Errorf("name match: %q by %q", fi.Base, fi.BaseMatch)
	}
}
