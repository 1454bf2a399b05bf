//go:build race

package devstack

// raceEnabled: the race detector slows erasured five to ten times, and
// make test runs the whole suite under it on two cores.
const raceEnabled = true
