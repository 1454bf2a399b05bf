package config

import "strings"

// suggestion is " (did you mean NAME?)" for the candidate closest to name,
// or "" when none is close enough to be a likely misspelling. YAML keys and
// environment variables share it, so both suggest alike.
func suggestion(name string, candidates []string) string {
	if s := closest(name, candidates); s != "" {
		return " (did you mean " + s + "?)"
	}
	return ""
}

// closest returns the candidate nearest to name by edit distance (case
// ignored), provided the distance is small for the name's length: up to a
// third of it, at least 1 and at most 3. Ties go to the earlier candidate,
// so the answer is stable (candidates come in struct field order).
func closest(name string, candidates []string) string {
	n := strings.ToLower(name)
	limit := min(max(len([]rune(n))/3, 1), 3)
	best, bestD := "", limit+1
	for _, c := range candidates {
		if d := editDistance(n, strings.ToLower(c), bestD); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b
// (insertions, deletions, substitutions and swaps of adjacent runes, each
// costing 1): a swap is as common a typo as a missed key. It stops early
// and returns bound once the distance is sure to reach bound, so comparing
// a long input against many names stays cheap.
func editDistance(a, b string, bound int) int {
	ra, rb := []rune(a), []rune(b)
	if d := len(ra) - len(rb); d >= bound || -d >= bound {
		return bound
	}
	// Three rows: the one before the previous one is needed for swaps.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
			rowMin = min(rowMin, v)
		}
		if rowMin >= bound {
			return bound
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return min(prev[len(rb)], bound)
}
