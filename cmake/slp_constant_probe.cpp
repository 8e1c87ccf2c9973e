// Configure-time probe (framework/CMakeLists.txt): does the compiler, with the project's
// -march=native, build the 256-bit constant {a, a, a, 0} of four 64-bit values correctly?
// GCC 12.2 (Debian 12's) does not on AVX-512 machines (and with -mtune=rocketlake): its SLP
// vectorizer emits a broadcast of `a` and the zero is lost, so a struct such as
// ConvWindow{2, 2, 2, 0} arrives as {2, 2, 2, 2}. Exit 0: correct; 1: miscompiled.
struct Four {
    long a, b, c, d;
};
[[gnu::noinline]] long last(Four f) { return f.d; }
[[gnu::noinline]] double last_double(double a, double b, double c, double d) { return d + 0 * (a + b + c); }
struct FourDoubles {
    double a, b, c, d;
};
[[gnu::noinline]] double last_of(FourDoubles f) { return last_double(f.a, f.b, f.c, f.d); }
int main() { return last({2, 2, 2, 0}) == 0 && last_of({2.0, 2.0, 2.0, 0.0}) == 0.0 ? 0 : 1; }
