package synth

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// TestGoldenDigests pins the generator's output: benchmark figures in
// reports are only comparable while the bytes stay the same. Change the
// digests only together with a deliberate change of the distributions, and
// say so where the figures are reported.
func TestGoldenDigests(t *testing.T) {
	want := map[Precision]string{
		Float32:  "1dc50d8532eefeef89992c78c4b563ddd7752104706e1de7fadfe5afebbbf384",
		Float16:  "a283a16bec23454d00d9865ba5838c0aafee689fde7f4ea0a92abf669634684c",
		BFloat16: "fa6d8cd04f997961a75d403dcf97ac22b9b41997ee8e6f81e0257e955b63f2ab",
	}
	for p, digest := range want {
		base := mustBase(t, smallConfig(p))
		tuned := mustFineTune(t, base, DefaultFineTune(9))
		h := sha256.New()
		for _, x := range append(base, tuned...) {
			h.Write([]byte(x.Name))
			h.Write(x.Data)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != digest {
			t.Errorf("%s: base + fine-tune digest %s, pinned %s", p, got, digest)
		}
	}
}
