"""gRPC servicers: proto in, proto out; decisions live in the pipeline and below."""
