package plugin

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation"
)

// checkObjectName checks a Kubernetes object name: a DNS subdomain (max
// 253) or, for namespaces, a DNS label (max 63).
func checkObjectName(what, name string, max int) error {
	if name == "" {
		return fmt.Errorf("%s is empty", what)
	}
	if max <= validation.DNS1123LabelMaxLength {
		if len(validation.IsDNS1123Label(name)) > 0 {
			return fmt.Errorf("%s %q: must be lowercase letters, digits and '-', start and end with a letter or digit, at most %d characters", what, name, max)
		}
		return nil
	}
	if len(validation.IsDNS1123Subdomain(name)) > 0 {
		return fmt.Errorf("%s %q: must be lowercase letters, digits, '-' and '.', start and end with a letter or digit, at most %d characters", what, name, max)
	}
	return nil
}

// closest is the candidate nearest to s when it is near enough to be the
// likely intent of a typo (edit distance at most 2), else "".
func closest(s string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := editDistance(s, c, bestDist); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, or limit when it
// is at least limit (long inputs are not worth comparing in full).
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d >= limit || -d >= limit {
		return limit
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return min(prev[len(b)], limit)
}
