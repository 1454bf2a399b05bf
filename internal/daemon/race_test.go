//go:build race

package daemon_test

// raceDetector is set under -race, which slows the heaviest workloads
// several-fold on CI's two cores: they then run a smaller count, and say
// so in what they print.
const raceDetector = true
