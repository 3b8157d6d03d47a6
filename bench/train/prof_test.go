package main

import "testing"

func BenchmarkStepFull(b *testing.B) {
	sh := shape{288, 6, 6, 6, 768, 32000, 8, 256, 32, 126}
	for i := 0; i < b.N; i++ {
		runGo(sh, "full", 1, 2)
	}
}

func BenchmarkStepSMT(b *testing.B) {
	sh := shape{288, 6, 6, 6, 768, 32000, 8, 256, 32, 126}
	for i := 0; i < b.N; i++ {
		runGo(sh, "smt", 1, 2)
	}
}
