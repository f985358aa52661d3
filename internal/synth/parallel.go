package synth

import (
	"hash/fnv"
	"math/rand/v2"
	"runtime"
	"sync"
)

// forEach runs fn(i) for i in [0, n) on up to GOMAXPROCS goroutines.
func forEach(n int, fn func(i int)) {
	workers := min(n, runtime.GOMAXPROCS(0))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// rngFor returns the random stream of one tensor: a function of the seed,
// a purpose and the tensor's name only, so results do not depend on order
// or parallelism.
func rngFor(seed uint64, purpose, name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}
