package cpu

// expSubSumAVX512 is ExpSubSum over n values (a multiple of 16).
//
//go:noescape
func expSubSumAVX512(x *float32, n int, m float32) float32
