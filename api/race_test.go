//go:build race

package api

// raceEnabled: the race detector makes encoding about fifteen times slower,
// so the biggest tests do less under it.
const raceEnabled = true
