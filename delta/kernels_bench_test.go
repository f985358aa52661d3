package delta

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"deltafs/npy"
)

// BenchmarkKernels measures the fused zigzag split and merge kernels of
// auto (class histogram included) on 1 MiB chunks of float16, bf16-halves
// and float32 data, warm (one chunk reused) and cold (walking 64 MiB of
// chunks, as a tensor decode does), beside a baseline measured in the same
// run: copy of the same bytes. Where the AVX-512 kernels run, the "-go"
// cases time the pure-Go loops on the same data.
func BenchmarkKernels(b *testing.B) {
	const chunk = 1 << 20
	cases := []struct {
		name   string
		dt     npy.DType
		halves bool
	}{
		{"f2", npy.DType{Kind: 'f', Size: 2, Order: '<'}, false},
		{"bf16", npy.DType{Kind: 'f', Size: 4, Order: '<'}, true},
		{"f4", npy.DType{Kind: 'f', Size: 4, Order: '<'}, false},
	}
	for _, kc := range cases {
		l := layoutFor(kc.dt, kc.halves)
		shape := kernelShape{w: l.width, halves: kc.halves}
		for _, cold := range []bool{false, true} {
			total := chunk
			if cold {
				total = 64 << 20
			}
			rng := rand.New(rand.NewPCG(1, 2))
			ref, tgt := make([]byte, total), make([]byte, total)
			for i := 0; i+4 <= total; i += 4 {
				v := rng.NormFloat64() * 0.02
				u := v + rng.NormFloat64()*0.0005
				switch {
				case kc.dt.Size == 2:
					putWord(ref, 2, i/2, uint64(f64ToF16(v)))
					putWord(tgt, 2, i/2, uint64(f64ToF16(u)))
					putWord(ref, 2, i/2+1, uint64(f64ToF16(-v)))
					putWord(tgt, 2, i/2+1, uint64(f64ToF16(-u)))
				case kc.halves:
					putWord(ref, 4, i/4, uint64(math.Float32bits(float32(v))&0xffff0000))
					putWord(tgt, 4, i/4, uint64(math.Float32bits(float32(u))&0xffff0000))
				default:
					putWord(ref, 4, i/4, uint64(math.Float32bits(float32(v))))
					putWord(tgt, 4, i/4, uint64(math.Float32bits(float32(u))))
				}
			}
			dst := make([]byte, total)
			words := chunk / shape.raw()
			pl := make([]byte, (shape.w+1)*words)
			p := new(classPlan)
			name := fmt.Sprintf("%s/cold=%v", kc.name, cold)
			run := func(what string, fn func(k int)) {
				b.Run(name+"/"+what, func(b *testing.B) {
					k := 0
					loop(b, chunk, func() {
						fn(k)
						k = (k + chunk) % total
					})
				})
			}
			run("copy-baseline", func(k int) { copy(dst[k:k+chunk], tgt[k:k+chunk]) })
			paths := []string{""}
			if useAVX512 {
				paths = append(paths, "-go") // the pure-Go loops beside the AVX-512 kernels
			}
			for _, path := range paths {
				fast := useAVX512 && path == ""
				run("split"+path, func(k int) {
					defer func(v bool) { useAVX512 = v }(useAVX512)
					useAVX512 = fast
					p.histogram(ref[k:k+chunk], l, shape)
					p.setBase(p.base())
					p.splitPlanes(pl, tgt[k:k+chunk], ref[k:k+chunk], shape, autoZigzag, nil)
				})
				run("merge"+path, func(k int) {
					defer func(v bool) { useAVX512 = v }(useAVX512)
					useAVX512 = fast
					p.histogram(ref[k:k+chunk], l, shape) // a zigzag decode reads stored counts instead
					p.setBase(p.base())
					p.mergePlanes(dst[k:k+chunk], pl, ref[k:k+chunk], shape, autoZigzag, nil)
				})
			}
		}
	}
}
