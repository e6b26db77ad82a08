package dev.quarry.nn;

import static org.junit.jupiter.api.Assertions.*;

import dev.quarry.engine.Device;
import dev.quarry.engine.Tensor;
import org.junit.jupiter.api.Test;

class BufferTest {
    @Test
    void fewerRowsReuseTheMemoryMoreRowsOrAnotherRowShapeReallocate() {
        Device cpu = Device.cpu();
        try (Buffer b = new Buffer()) {
            Tensor t = b.get(cpu, 8, 3, 2);
            long base = t.address();
            assertSame(t, b.get(cpu, 8, 3, 2), "the same shape: the same tensor");
            Tensor fewer = b.get(cpu, 5, 3, 2);
            assertArrayEquals(new int[] {5, 3, 2}, fewer.shape());
            assertEquals(base, fewer.address(), "fewer rows: a view of the memory held");
            Tensor back = b.get(cpu, 8, 3, 2);
            assertEquals(base, back.address(), "back to the full size without reallocating");
            assertTrue(t.isOpen(), "the memory was not freed");
            Tensor more = b.get(cpu, 9, 3, 2);
            assertArrayEquals(new int[] {9, 3, 2}, more.shape());
            assertFalse(t.isOpen(), "more rows: the old memory is freed");
            Tensor other = b.get(cpu, 4, 6, 1);
            assertArrayEquals(new int[] {4, 6, 1}, other.shape());
            assertFalse(more.isOpen(), "another row shape: reallocated");
        }
    }
}
