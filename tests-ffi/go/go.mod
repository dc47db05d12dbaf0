module libmsrp/tests-ffi/go

go 1.19
