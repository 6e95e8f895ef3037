package sqlite

import "context"

// Pragma reads a pragma on the writer connection (tests only).
func (s *Store) Pragma(ctx context.Context, name string, dst any) error {
	return s.w.QueryRowContext(ctx, "PRAGMA "+name).Scan(dst)
}
