//go:build race

package main

// raceEnabled: this test binary runs under the race detector, whose
// shadow memory would swamp any measure of the program's own.
const raceEnabled = true
