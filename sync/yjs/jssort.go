package yjs

import "slices"

// jsSort sorts a in place the way V8's Array.prototype.sort (TimSort)
// does. For a consistent comparator any stable sort gives the same result;
// yjs's merge comparator is inconsistent for an Item and a GC at the same
// ID, so to produce the same bytes we follow V8's steps: below 64 elements
// V8 finds the leading run (reversing a strictly descending one) and
// binary-inserts the rest.
func jsSort[T any](a []T, cmp func(x, y T) int) {
	n := len(a)
	if n < 2 {
		return
	}
	if n >= 64 {
		slices.SortStableFunc(a, cmp)
		return
	}
	run := countAndMakeRun(a, cmp)
	binaryInsertionSort(a, run, cmp)
}

// countAndMakeRun returns the length of the run at the start of a; a
// strictly descending run is reversed in place.
func countAndMakeRun[T any](a []T, cmp func(x, y T) int) int {
	if len(a) == 1 {
		return 1
	}
	run := 2
	descending := cmp(a[1], a[0]) < 0
	prev := a[1]
	for i := 2; i < len(a); i++ {
		order := cmp(a[i], prev)
		if descending {
			if order >= 0 {
				break
			}
		} else if order < 0 {
			break
		}
		prev = a[i]
		run++
	}
	if descending {
		slices.Reverse(a[:run])
	}
	return run
}

// binaryInsertionSort inserts a[start:] into the sorted prefix a[:start],
// each at the position after all elements that do not compare greater.
func binaryInsertionSort[T any](a []T, start int, cmp func(x, y T) int) {
	if start == 0 {
		start = 1
	}
	for ; start < len(a); start++ {
		pivot := a[start]
		left, right := 0, start
		for left < right {
			mid := left + (right-left)>>1
			if cmp(pivot, a[mid]) < 0 {
				right = mid
			} else {
				left = mid + 1
			}
		}
		copy(a[left+1:start+1], a[left:start])
		a[left] = pivot
	}
}
