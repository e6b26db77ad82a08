package dev.quarry.engine;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Random;
import org.junit.jupiter.api.Test;

class TensorTest {
    private final Device cpu = Device.cpu();

    @Test
    void uploadDownloadRoundTripsExactly() {
        Random r = new Random(1);
        float[] data = new float[3 * 5 * 7];
        for (int i = 0; i < data.length; i++) data[i] = (float) r.nextGaussian();
        try (Tensor t = Tensor.of(cpu, data, 3, 5, 7)) {
            assertArrayEquals(data, t.toFloats());
            assertEquals(105, t.numel());
            assertEquals(7, t.dim(-1));
        }
    }

    @Test
    void viewSharesMemoryAndDiesWithItsOwner() {
        Tensor t = Tensor.of(cpu, new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor v = t.view(3, 2);
        assertEquals(t.address(), v.address());
        Ops.fill(v, 9f);
        assertArrayEquals(new float[] {9, 9, 9, 9, 9, 9}, t.toFloats());
        t.close();
        QuarryException e = assertThrows(QuarryException.class, v::toFloats);
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
    }

    @Test
    void closedTensorIsRefusedByOpsWithTheShapesInTheMessage() {
        Tensor x = Tensor.zeros(cpu, 2, 3);
        Tensor y = Tensor.zeros(cpu, 2, 3);
        x.close();
        x.close(); // closing twice is harmless
        QuarryException e = assertThrows(QuarryException.class, () -> Ops.reluForward(x, y));
        assertTrue(e.getMessage().startsWith("relu_fwd: closed tensor"), e.getMessage());
        assertTrue(e.getMessage().contains("[2, 3]"), e.getMessage());
        y.close();
    }

    @Test
    void nullTensorIsRefused() {
        try (Tensor y = Tensor.zeros(cpu, 4)) {
            QuarryException e = assertThrows(QuarryException.class, () -> Ops.reluForward(null, y));
            assertTrue(e.getMessage().contains("relu_fwd: null tensor"), e.getMessage());
        }
    }

    @Test
    void arrayOfTheWrongLengthIsRefused() {
        try (Tensor t = Tensor.zeros(cpu, 2, 2)) {
            QuarryException e = assertThrows(QuarryException.class, () -> t.upload(new float[3]));
            assertTrue(e.getMessage().contains("array of 3 elements"), e.getMessage());
            assertThrows(QuarryException.class, () -> t.upload((float[]) null));
            assertThrows(QuarryException.class, t::toInts);
        }
    }

    @Test
    void nonPositiveShapesAreRefused() {
        assertThrows(QuarryException.class, () -> Tensor.empty(cpu, 3, 0));
        assertThrows(QuarryException.class, () -> Tensor.empty(cpu, -1));
        try (Tensor t = Tensor.zeros(cpu, 6)) {
            assertThrows(QuarryException.class, () -> t.view(4));
        }
        try (Tensor t = Tensor.zeros(cpu, 10, 4)) {
            assertThrows(QuarryException.class, () -> t.slice(5, Integer.MAX_VALUE - 2), "no int overflow in the bounds check");
            assertThrows(QuarryException.class, () -> t.slice(8, 3));
            assertEquals(2, t.slice(8, 2).dim(0));
        }
    }

    @Test
    void cudaRequestWithoutGpuGivesAClearError() {
        Device.CudaProbe probe = Device.probeCuda();
        if (probe.available()) {
            Device d = Device.cuda();
            try (Tensor t = Tensor.of(d, new float[] {1, -2, 3}, 3)) {
                assertArrayEquals(new float[] {1, -2, 3}, t.toFloats());
            }
            return;
        }
        QuarryException e = assertThrows(QuarryException.class, () -> Device.select("cuda", null));
        assertEquals(QuarryNative.QY_ERR_NO_DEVICE, e.status());
        assertTrue(e.getMessage().startsWith("--device cuda: no usable GPU: "), e.getMessage());
        assertTrue(e.getMessage().length() > "--device cuda: no usable GPU: ".length(), "the reason is given");
        assertSame(Device.cpu(), Device.select("auto", null));
        QuarryException bad = assertThrows(QuarryException.class, () -> Device.select("tpu", null));
        assertTrue(bad.getMessage().contains("expected auto, cpu or cuda"));
    }

    @Test
    void nativeCallWithCudaBackendButNoGpuReturnsStatusNotCrash() {
        if (Device.probeCuda().available()) return;
        long[] out = new long[1];
        int status = QuarryNative.qy_malloc(QuarryNative.QY_DEV_CUDA, 1024, out);
        assertEquals(QuarryNative.QY_ERR_NO_DEVICE, status);
        assertFalse(QuarryNative.qy_last_error().isEmpty());
    }
}
