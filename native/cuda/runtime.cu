// CUDA runtime services: device discovery, device memory, host<->device copies and streams. Ops run on the
// calling thread's current device. Host<->device copies are synchronous because the host side may be a Java
// array pinned only for the duration of the call.
#include <cstdio>

#include "common.cuh"

int cuda_device_count(int* count) {
    *count = 0;
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
        // 35 (insufficient driver) without a driver, 100 (no device) without a GPU: both mean "use the CPU".
        (void)cudaGetLastError();
        return qy_set_error(QY_ERR_NO_DEVICE, "no usable CUDA device: %s (%s, code %d)", cudaGetErrorString(err),
                            cudaGetErrorName(err), (int)err);
    }
    if (n <= 0) return qy_set_error(QY_ERR_NO_DEVICE, "no usable CUDA device: the driver reports 0 devices");
    *count = n;
    return QY_OK;
}

int cuda_device_info(int ordinal, char* name, int name_len, int64_t* total_bytes, int* cc_major, int* cc_minor,
                     int* driver_version, int* runtime_version) {
    int count = 0;
    if (int s = cuda_device_count(&count)) return s;
    if (ordinal < 0 || ordinal >= count)
        return qy_set_error(QY_ERR_INVALID, "qy_cuda_device_info: device %d out of range [0, %d)", ordinal, count);
    cudaDeviceProp prop;
    QY_CUDA_CHECK(cudaGetDeviceProperties(&prop, ordinal));
    std::snprintf(name, (size_t)name_len, "%s", prop.name);
    *total_bytes = (int64_t)prop.totalGlobalMem;
    *cc_major = prop.major;
    *cc_minor = prop.minor;
    QY_CUDA_CHECK(cudaDriverGetVersion(driver_version));
    QY_CUDA_CHECK(cudaRuntimeGetVersion(runtime_version));
    return QY_OK;
}

int cuda_malloc(int64_t bytes, void** out) {
    *out = nullptr;
    cudaError_t err = cudaMalloc(out, (size_t)bytes);
    if (err == cudaSuccess) return QY_OK;
    *out = nullptr;
    (void)cudaGetLastError();
    if (err == cudaErrorMemoryAllocation)
        return qy_set_error(QY_ERR_OOM, "qy_malloc: out of device memory allocating %lld bytes", (long long)bytes);
    if (err == cudaErrorInsufficientDriver || err == cudaErrorNoDevice)
        return qy_set_error(QY_ERR_NO_DEVICE, "qy_malloc: no usable CUDA device: %s", cudaGetErrorString(err));
    return qy_set_error(QY_ERR_CUDA, "qy_malloc: cudaMalloc of %lld bytes failed: %s", (long long)bytes,
                        cudaGetErrorString(err));
}

int cuda_free(void* ptr) {
    QY_CUDA_CHECK(cudaFree(ptr));
    return QY_OK;
}

int cuda_upload(void* stream, void* dst, const void* src, int64_t bytes) {
    cudaStream_t s = qy::cu::as_stream(stream);
    QY_CUDA_CHECK(cudaMemcpyAsync(dst, src, (size_t)bytes, cudaMemcpyHostToDevice, s));
    QY_CUDA_CHECK(cudaStreamSynchronize(s));
    return QY_OK;
}

int cuda_download(void* stream, void* dst, const void* src, int64_t bytes) {
    cudaStream_t s = qy::cu::as_stream(stream);
    QY_CUDA_CHECK(cudaMemcpyAsync(dst, src, (size_t)bytes, cudaMemcpyDeviceToHost, s));
    QY_CUDA_CHECK(cudaStreamSynchronize(s));
    return QY_OK;
}

// Device-to-device, ordered on the stream. Overlapping ranges have memmove semantics (as on the CPU backend):
// cudaMemcpy does not allow overlap, so they go through a scratch copy.
int cuda_copy(void* stream, void* dst, const void* src, int64_t bytes) {
    cudaStream_t s = qy::cu::as_stream(stream);
    if (dst == src) return QY_OK;
    const char* d = static_cast<const char*>(dst);
    const char* c = static_cast<const char*>(src);
    if (d < c + bytes && c < d + bytes) {
        qy::cu::Scratch tmp(s);
        if (int st = tmp.alloc((size_t)bytes, "qy_copy")) return st;
        QY_CUDA_CHECK(cudaMemcpyAsync(tmp.as<void>(), src, (size_t)bytes, cudaMemcpyDeviceToDevice, s));
        QY_CUDA_CHECK(cudaMemcpyAsync(dst, tmp.as<void>(), (size_t)bytes, cudaMemcpyDeviceToDevice, s));
        return QY_OK;
    }
    QY_CUDA_CHECK(cudaMemcpyAsync(dst, src, (size_t)bytes, cudaMemcpyDeviceToDevice, s));
    return QY_OK;
}

int cuda_stream_create(void** out) {
    cudaStream_t s = nullptr;
    QY_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    *out = static_cast<void*>(s);
    return QY_OK;
}

int cuda_stream_destroy(void* stream) {
    QY_CUDA_CHECK(cudaStreamDestroy(qy::cu::as_stream(stream)));
    return QY_OK;
}

int cuda_stream_sync(void* stream) {
    QY_CUDA_CHECK(cudaStreamSynchronize(qy::cu::as_stream(stream)));
    return QY_OK;
}
