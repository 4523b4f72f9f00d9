package crawlers

import (
	"fmt"
	"math"
	"strings"
)

// matcher is an Aho-Corasick automaton over the lower-cased patterns, compiled to a
// dense DFA over byte classes: a User-Agent is read once, one table load per byte,
// whatever the number of patterns. A combined regexp does the same job about ten times
// slower (BenchmarkMatch against BenchmarkMatchRegexp).
//
// Bytes that occur in no pattern share class 0, which always leads back to the
// root; ASCII upper-case letters share the class of their lower case, which makes the
// match case-insensitive without copying the input.
//
// The hot loop does one add and one load per byte: a table entry is the next state's
// row offset (state*width), with hasOut set when a pattern ends in that state.
type matcher struct {
	class  [256]uint8
	width  int      // number of classes
	next   []uint32 // next[row+class] = row of the next state | hasOut
	out    []int16  // by state: longest pattern ending there (own or through suffix links), -1 if none
	length []int    // pattern lengths
	maxLen int
}

const hasOut = 1 << 31

func newMatcher(patterns []string) (*matcher, error) {
	m := &matcher{width: 1}
	for _, p := range patterns {
		for i := 0; i < len(p); i++ {
			b := lower(p[i])
			if m.class[b] == 0 {
				if m.width > math.MaxUint8 {
					return nil, fmt.Errorf("too many distinct bytes in the patterns")
				}
				m.class[b] = uint8(m.width)
				m.width++
			}
		}
	}
	for b := 'A'; b <= 'Z'; b++ {
		m.class[b] = m.class[b+'a'-'A']
	}

	// The trie: children[state][class], 0 = none (the root is never a child).
	children := [][]int{make([]int, m.width)}
	terminal := []int{-1}
	for pi, p := range patterns {
		p = strings.ToLower(p)
		s := 0
		for i := 0; i < len(p); i++ {
			c := m.class[p[i]]
			if children[s][c] == 0 {
				children = append(children, make([]int, m.width))
				terminal = append(terminal, -1)
				children[s][c] = len(children) - 1
			}
			s = children[s][c]
		}
		if terminal[s] >= 0 {
			return nil, fmt.Errorf("pattern %q is listed twice", p)
		}
		terminal[s] = pi
		m.length = append(m.length, len(p))
		m.maxLen = max(m.maxLen, len(p))
	}
	n := len(children)
	if n*m.width >= hasOut || len(patterns) > math.MaxInt16 {
		return nil, fmt.Errorf("%d states and %d patterns are too many for the automaton", n, len(patterns))
	}

	// Breadth first, so a state's suffix link is complete before its children need it:
	// next[s][c] is the trie child, else the transition of the longest proper suffix.
	next := make([]int, n*m.width) // by state number; turned into rows below
	m.out = make([]int16, n)
	fail := make([]int, n)
	m.out[0] = -1
	queue := []int{}
	for c := 0; c < m.width; c++ {
		if t := children[0][c]; t != 0 {
			next[c] = t
			queue = append(queue, t)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		// The state's own pattern is longer than any pattern of its suffix link.
		m.out[s] = int16(terminal[s])
		if terminal[s] < 0 {
			m.out[s] = m.out[fail[s]]
		}
		for c := 0; c < m.width; c++ {
			t := children[s][c]
			if t == 0 {
				next[s*m.width+c] = next[fail[s]*m.width+c]
				continue
			}
			fail[t] = next[fail[s]*m.width+c]
			next[s*m.width+c] = t
			queue = append(queue, t)
		}
	}
	m.next = make([]uint32, len(next))
	for i, t := range next {
		m.next[i] = uint32(t * m.width)
		if m.out[t] >= 0 {
			m.next[i] |= hasOut
		}
	}
	return m, nil
}

// find returns the index of the pattern that starts leftmost in s (the longest of
// those), or -1.
func (m *matcher) find(s string) int {
	best, bestStart := -1, 0
	next, class := m.next, &m.class
	row := uint32(0)
	for i := 0; i < len(s); i++ {
		row = next[row&^hasOut+uint32(class[s[i]])]
		if row&hasOut != 0 {
			p := int(m.out[int(row&^hasOut)/m.width])
			start := i + 1 - m.length[p]
			if best < 0 || start < bestStart || (start == bestStart && m.length[p] > m.length[best]) {
				best, bestStart = p, start
			}
		}
		// No match that ends later can start at or before bestStart.
		if best >= 0 && i-bestStart >= m.maxLen {
			break
		}
	}
	return best
}

func lower(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}
