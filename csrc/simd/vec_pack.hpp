// Packs of N independent vectors with the vector layer's operations applied to each
// member in turn. A transform written over a pack runs the same per-lane operations as
// over one vector (so the same bits), but its N dependency chains are interleaved in
// the instruction stream, which hides the latency of long chains (Philox rounds,
// Horner polynomials, div and sqrt). An operation taking a pack and a plain vector
// uses the vector for every member (constants from set1_*).
// Included inside the target namespace, after the vector layer.
#pragma once

#if defined(_MSC_VER) && !defined(__clang__)
#define REPARAM_INLINE __forceinline
#else
#define REPARAM_INLINE inline __attribute__((always_inline))
#endif

template <class V, int N>
struct Pack {
  V v[N];
};

template <class T>
struct PackSize : std::integral_constant<int, 0> {};
template <class V, int N>
struct PackSize<Pack<V, N>> : std::integral_constant<int, N> {};

constexpr int max_pack_size() { return 0; }
template <class... R>
constexpr int max_pack_size(int a, R... rest) {
  return a > max_pack_size(rest...) ? a : max_pack_size(rest...);
}
// The pack size of an operation's arguments; 0 when none is a pack.
template <class... A>
inline constexpr int kPackOf = max_pack_size(PackSize<A>::value...);

// Member I of a pack, or the plain vector itself.
template <int I, class T>
REPARAM_INLINE const T& at(const T& x) { return x; }
template <int I, class V, int N>
REPARAM_INLINE const V& at(const Pack<V, N>& p) { return p.v[I]; }

template <int... I>
struct PackIdx {};
template <int N, int... I>
struct MakePackIdx : MakePackIdx<N - 1, N - 1, I...> {};
template <int... I>
struct MakePackIdx<0, I...> {
  using type = PackIdx<I...>;
};

template <class Op, int I, class... A>
REPARAM_INLINE auto pack_member(const A&... a) {
  return Op{}(at<I>(a)...);
}
template <class Op, int... I, class... A>
REPARAM_INLINE auto pack_map(PackIdx<I...>, const A&... a) {
  using R = decltype(Op{}(at<0>(a)...));
  return Pack<R, int(sizeof...(I))>{{pack_member<Op, I>(a...)...}};
}

#define REPARAM_PACK_OP(name)                                                                \
  struct PackOp_##name {                                                                     \
    template <class... A>                                                                    \
    REPARAM_INLINE auto operator()(const A&... a) const { return name(a...); }               \
  };                                                                                         \
  template <class... A, class = std::enable_if_t<(kPackOf<A...> > 0)>>                       \
  REPARAM_INLINE auto name(const A&... a) {                                                  \
    return pack_map<PackOp_##name>(typename MakePackIdx<kPackOf<A...>>::type{}, a...);       \
  }
#define REPARAM_PACK_SHIFT(name)                                                             \
  template <int K>                                                                           \
  struct PackOp_##name {                                                                     \
    template <class A>                                                                       \
    REPARAM_INLINE auto operator()(const A& a) const { return name<K>(a); }                  \
  };                                                                                         \
  template <int K, class V, int N>                                                           \
  REPARAM_INLINE auto name(const Pack<V, N>& a) {                                            \
    return pack_map<PackOp_##name<K>>(typename MakePackIdx<N>::type{}, a);                   \
  }

REPARAM_PACK_OP(add)
REPARAM_PACK_OP(sub)
REPARAM_PACK_OP(mul)
REPARAM_PACK_OP(div)
REPARAM_PACK_OP(sqrt)
REPARAM_PACK_OP(abs)
REPARAM_PACK_OP(max_gt)
REPARAM_PACK_OP(min_lt)
REPARAM_PACK_OP(band)
REPARAM_PACK_OP(bor)
REPARAM_PACK_OP(bxor)
REPARAM_PACK_OP(gt)
REPARAM_PACK_OP(select)
REPARAM_PACK_OP(negate_if)
REPARAM_PACK_OP(top_bit)
REPARAM_PACK_OP(to_f32)
REPARAM_PACK_OP(as_f32)
REPARAM_PACK_OP(as_u32)
REPARAM_PACK_OP(to_f64_lo)
REPARAM_PACK_OP(to_f64_hi)
REPARAM_PACK_OP(mask_lo)
REPARAM_PACK_OP(mask_hi)
REPARAM_PACK_OP(as_f64)
REPARAM_PACK_OP(as_u64)
REPARAM_PACK_OP(add64)
REPARAM_PACK_OP(sub64)
REPARAM_PACK_SHIFT(srl)
REPARAM_PACK_SHIFT(sll)
REPARAM_PACK_SHIFT(srl64)
REPARAM_PACK_SHIFT(sll64)
#undef REPARAM_PACK_OP
#undef REPARAM_PACK_SHIFT

template <class V, int N, int... I>
REPARAM_INLINE void mulhilo_each(PackIdx<I...>, const Pack<V, N>& a, std::uint32_t m, Pack<V, N>& hi,
                                 Pack<V, N>& lo) {
  (mulhilo(a.v[I], m, hi.v[I], lo.v[I]), ...);
}
template <class V, int N>
REPARAM_INLINE void mulhilo(const Pack<V, N>& a, std::uint32_t m, Pack<V, N>& hi, Pack<V, N>& lo) {
  mulhilo_each(typename MakePackIdx<N>::type{}, a, m, hi, lo);
}

// Every lane of every member (one test, not one branch per member).
template <class M, int... I>
REPARAM_INLINE bool all_lanes_each(PackIdx<I...>, const Pack<M, int(sizeof...(I))>& m) {
  return (int(all_lanes(m.v[I])) & ...) != 0;
}
template <class M, int N>
REPARAM_INLINE bool all_lanes(const Pack<M, N>& m) {
  return all_lanes_each(typename MakePackIdx<N>::type{}, m);
}

template <class V, int... I>
REPARAM_INLINE Pack<V, int(sizeof...(I))> splat_pack(PackIdx<I...>, const V& x) {
  return {{(void(I), x)...}};
}
// A plain vector as a value of type P (a pack of copies when P is a pack).
template <class P, class V>
REPARAM_INLINE P lift(const V& x) {
  if constexpr (PackSize<P>::value == 0) {
    return x;
  } else {
    return splat_pack(typename MakePackIdx<PackSize<P>::value>::type{}, x);
  }
}
