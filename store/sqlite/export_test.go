package sqlite

// SetCommonMatches changes the count above which text matches count as
// common, so the suite can run through both plans; it returns the undo.
func SetCommonMatches(n int) (undo func()) {
	old := commonMatches
	commonMatches = n
	return func() { commonMatches = old }
}

// KeyToken is keyToken, for comparing with what the database makes.
var KeyToken = keyToken
