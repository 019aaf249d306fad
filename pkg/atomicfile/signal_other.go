//go:build !unix

package atomicfile

// track creates a file; elsewhere than Unix an interrupted write may leave
// its temporary file behind.
func track(create func() (string, error)) (untrack func(), err error) {
	_, err = create()
	return func() {}, err
}
