#version 330 core
// Aurora night: a clear northern night. Stars, a faint Milky Way and aurora curtains hanging
// 95-300 km up, rippling slowly; seen lying face-up, or seated by a still lake below low hills.
// World: +Y up, north (where the aurora gathers) straight ahead along -Z. The sky is drawn from
// the eye's position, in kilometres: at those distances both eyes see the same sky.
in vec2 v_ndc;
out vec4 frag_color;

uniform float u_time;
uniform float u_breath;
uniform float u_calm;
uniform float u_fade;
uniform mat4 u_inv_view_proj;
uniform vec3 u_eye_pos;
uniform vec2 u_resolution;

const float PI = 3.14159265;
const float AURORA_BOTTOM_KM = 95.0;
const int AURORA_STEPS = 16;
const int MIRRORED_AURORA_STEPS = 8;  // the lake's reflection is dim and blurred by the ripples
const vec3 GALACTIC_POLE = vec3(0.5145, 0.3274, 0.7924);  // the Milky Way crosses the sky near the zenith

// Set once per pixel in main().
float g_pixel_angle;
float g_breath;
float g_jitter;

float hash12(vec2 p) {
    vec3 p3 = fract(vec3(p.xyx) * 0.1031);
    p3 += dot(p3, p3.yzx + 33.33);
    return fract((p3.x + p3.y) * p3.z);
}

float hash13(vec3 p3) {
    p3 = fract(p3 * 0.1031);
    p3 += dot(p3, p3.zyx + 31.32);
    return fract((p3.x + p3.y) * p3.z);
}

vec4 hash43(vec3 p) {
    vec4 p4 = fract(vec4(p.xyzx) * vec4(0.1031, 0.1030, 0.0973, 0.1099));
    p4 += dot(p4, p4.wzxy + 33.33);
    return fract((p4.xxyz + p4.yzzw) * p4.zywx);
}

float noise1(float x) {
    float i = floor(x);
    float f = fract(x);
    float a = hash12(vec2(i, 7.31));
    float b = hash12(vec2(i + 1.0, 7.31));
    return mix(a, b, f * f * (3.0 - 2.0 * f));
}

float noise2(vec2 x) {
    vec2 i = floor(x);
    vec2 f = fract(x);
    vec2 u = f * f * (3.0 - 2.0 * f);
    float a = hash12(i);
    float b = hash12(i + vec2(1.0, 0.0));
    float c = hash12(i + vec2(0.0, 1.0));
    float d = hash12(i + vec2(1.0, 1.0));
    return mix(mix(a, b, u.x), mix(c, d, u.x), u.y);
}

float noise3(vec3 x) {
    vec3 i = floor(x);
    vec3 f = fract(x);
    vec3 u = f * f * (3.0 - 2.0 * f);
    return mix(mix(mix(hash13(i), hash13(i + vec3(1, 0, 0)), u.x),
                   mix(hash13(i + vec3(0, 1, 0)), hash13(i + vec3(1, 1, 0)), u.x), u.y),
               mix(mix(hash13(i + vec3(0, 0, 1)), hash13(i + vec3(1, 0, 1)), u.x),
                   mix(hash13(i + vec3(0, 1, 1)), hash13(i + vec3(1, 1, 1)), u.x), u.y), u.z);
}

// Octaves finer than the pixel fade out rather than shimmer.
float fbm3(vec3 p, float pixel_scale) {
    float sum = 0.0;
    float amp = 0.5;
    float norm = 0.0;
    for (int i = 0; i < 3; i++) {
        float kept = 1.0 - smoothstep(0.25, 0.5, pixel_scale);
        sum += amp * mix(0.5, noise3(p), kept);
        norm += amp;
        p = p * 2.07 + vec3(1.7, 9.2, 3.1);
        pixel_scale *= 2.07;
        amp *= 0.55;
    }
    return sum / norm;
}

// Night sky without stars: blue-black overhead, a faint green-grey airglow low down.
vec3 sky_gradient(vec3 d) {
    float e = max(d.y, 0.0);
    vec3 zenith = vec3(0.0009, 0.0013, 0.0042);
    vec3 low = vec3(0.0030, 0.0042, 0.0090);
    vec3 col = mix(low, zenith, smoothstep(0.0, 0.6, e));
    col += vec3(0.0030, 0.0055, 0.0040) * exp(-e * 14.0);  // airglow
    return col;
}

vec3 stars(vec3 d) {
    vec3 light = vec3(0.0);
    float milky = exp(-pow(dot(d, GALACTIC_POLE) / 0.16, 2.0));
    for (int layer = 0; layer < 3; layer++) {
        float scale = layer == 0 ? 38.0 : (layer == 1 ? 70.0 : 120.0);
        vec3 cell = floor(d * scale);
        vec4 h = hash43(cell + float(layer) * 31.7);
        float keep = layer == 0 ? 0.90 : (layer == 1 ? 0.86 - 0.10 * milky : 0.84 - 0.20 * milky);
        if (h.x < keep) continue;
        vec3 star = normalize(cell + 0.25 + 0.5 * h.yzw);
        if (any(notEqual(floor(star * scale), cell))) continue;  // shown only by the cell it sits in
        float size = 0.0006;
        float sigma = max(size, 0.6 * g_pixel_angle);
        float dist = length(d - star);
        float brightness = (layer == 0 ? 0.55 : (layer == 1 ? 0.16 : 0.06)) * pow(h.w, 2.5) + 0.012;
        // Only a slow, shallow shimmer (periods of 15-40 s): stars never flash.
        float shimmer = 1.0 - 0.07 * (0.5 + 0.5 * sin(u_time * (0.16 + 0.25 * h.y) + h.z * 40.0));
        vec3 tint = mix(vec3(1.0, 0.84, 0.70), vec3(0.75, 0.85, 1.0), h.z);
        light += tint * brightness * shimmer * (size * size) / (sigma * sigma)
                 * exp(-0.5 * dist * dist / (sigma * sigma));
    }
    return light;
}

// A faint band of unresolved stars, split by dark dust lanes.
vec3 milky_way(vec3 d) {
    float g = dot(d, GALACTIC_POLE);
    float band = exp(-(g * g) * (1.0 / (0.15 * 0.15)));
    if (band < 0.01) return vec3(0.0);
    float glow = fbm3(d * 6.0, g_pixel_angle * 6.0);
    float clumps = fbm3(d * 16.0 + 3.0, g_pixel_angle * 16.0);
    float lane = exp(-pow((g - 0.025 + 0.06 * (glow - 0.5)) / 0.045, 2.0)) * (0.55 + 0.45 * smoothstep(0.3, 0.7, clumps));
    float light = band * (0.5 + 0.9 * glow) * (0.6 + 0.8 * clumps) * (1.0 - 0.75 * lane);
    return vec3(0.0085, 0.0085, 0.0100) * light;
}

// The curtains' ground track: sheets running east-west that fold and ripple slowly.
// Returns the distance across the sheets (km) at east-west position x.
float fold_offset(float x) {
    float t = u_time;
    float shape = 55.0 * sin(x * 0.0042) + 20.0 * sin(x * 0.0095 + 2.0);
    // Two motion fields: the calm one keeps only the broad, slowest sway.
    float sway = 9.0 * sin(x * 0.0051 + t * 0.126 + 0.7)               // 0.020 Hz
               + 4.0 * sin(x * 0.013 - t * 0.170 + 1.3);               // 0.027 Hz
    float ripple = 4.0 * sin(x * 0.027 + t * 0.38 + 2.1)               // 0.060 Hz
                 + 1.6 * sin(x * 0.061 - t * 0.52 + 0.4);              // 0.083 Hz
    return shape + sway + mix(1.0, 0.3, u_calm) * ripple;
}

// Aurora light along a view ray from the eye (all in km), marched through the glowing layer.
vec3 aurora(vec3 d, int steps) {
    if (d.y < 0.015) return vec3(0.0);
    float height = mix(60.0, 90.0, g_breath) * mix(1.0, 0.85, u_calm);  // e-folding height of the glow
    float top = AURORA_BOTTOM_KM + 3.2 * height;
    float dh = (top - AURORA_BOTTOM_KM) / float(steps);
    float ds = dh / d.y;                               // step along the ray
    float du = ds * max(abs(d.z), 0.05);               // step across the sheets
    // Three sheets at different distances north, each band widened to the march step so
    // coarse steps blur rather than band (the integral across each sheet is kept).
    const vec4 sheet_at = vec4(-25.0, 70.0, -230.0, -520.0);
    const vec4 sheet_width = vec4(8.0, 12.0, 14.0, 22.0);
    const vec4 sheet_power = vec4(0.9, 0.45, 1.0, 0.9);
    vec4 inv_w = inversesqrt(sheet_width * sheet_width + 0.3 * du * du);
    vec4 sheet_gain = sheet_power * sheet_width * inv_w;
    float inv_height = 1.0 / height;
    vec3 light = vec3(0.0);
    for (int i = 0; i < steps; i++) {
        float h = AURORA_BOTTOM_KM + dh * (float(i) + g_jitter);
        vec2 p = d.xz * (h / d.y);
        if (p.y < -1100.0 || p.y > 260.0) continue;
        float u = p.y + fold_offset(p.x);
        // Three sheets at different distances north, each band widened to the march step so
        // coarse steps blur rather than band (the integral across each sheet is kept).
        vec4 across = (u - sheet_at) * inv_w;
        float sheets = dot(sheet_gain, exp(-across * across));
        if (sheets < 0.002) continue;
        // Vertical rays along each sheet and slow brightening that travels along it.
        // Rays are columns a few km across, not planes: seen from below they converge softly.
        float rays = 0.45 + 0.55 * noise2(vec2(p.x * 0.11 + u_time * 0.05, u * 0.12));
        rays *= 0.6 + 0.4 * noise2(vec2(p.x * 0.37 - u_time * 0.03, u * 0.3 + 5.0));
        float patches = smoothstep(0.15, 0.85, noise1(p.x * 0.006 - u_time * 0.02 + 3.0));
        float rise = h - AURORA_BOTTOM_KM;
        float profile = smoothstep(0.0, 10.0, rise) * exp(-rise * inv_height);
        vec3 tint = mix(vec3(0.20, 1.00, 0.42), vec3(0.10, 0.75, 0.70), smoothstep(15.0, 70.0, rise));
        tint = mix(tint, vec3(0.55, 0.22, 0.85), smoothstep(60.0, 160.0, rise));
        float extinction = exp(-length(p) / 900.0);
        light += tint * sheets * rays * (0.25 + 0.75 * patches) * profile * extinction * ds;
    }
    float power = mix(0.66, 1.0, g_breath) * mix(1.0, 0.75, u_calm);
    return light * power * 0.0075;
}

vec3 night_sky(vec3 d) {
    vec3 col = sky_gradient(d) + milky_way(d) + aurora(d, AURORA_STEPS);
    col += smoothstep(0.0, 0.12, d.y) * stars(d);
    return col;
}

// Sine of the elevation of a ridge line in direction d: `layer` 0 is the far range, 1 the nearer hills.
float ridge(vec3 d, float layer) {
    float azimuth = atan(d.x, -d.z);
    float seed = layer * 17.0;
    float hump = layer == 0.0 ? 0.050 + 0.090 * noise1(azimuth * 3.4 + 4.0)
                              : 0.015 + 0.060 * smoothstep(0.2, 0.9, noise1(azimuth * 1.7 + 9.0));
    return hump + 0.012 * noise1(azimuth * 8.0 + seed) + 0.004 * noise1(azimuth * 25.0 + seed);
}

// The far range is a little lighter (the air in between), the near hills almost black.
vec3 land(vec3 d, out float cover) {
    float far_ridge = ridge(d, 0.0);
    float near_ridge = ridge(d, 1.0);
    float far_cover = smoothstep(far_ridge + g_pixel_angle, far_ridge - g_pixel_angle, d.y);
    float near_cover = smoothstep(near_ridge + g_pixel_angle, near_ridge - g_pixel_angle, d.y);
    vec3 far_col = vec3(0.0016, 0.0022, 0.0034) + vec3(0.0004, 0.0016, 0.0012) * smoothstep(0.0, 0.08, d.y);
    vec3 near_col = vec3(0.0007, 0.0009, 0.0012);
    cover = max(far_cover, near_cover);
    return mix(far_col, near_col, near_cover);
}

vec3 lake(vec3 d) {
    float t = u_eye_pos.y / max(-d.y, 1e-5);  // m; the water is at y = 0
    vec3 p = u_eye_pos + d * t;
    float footprint = t * g_pixel_angle / max(-d.y, 0.02);
    // The near shore: dark grass and stones along a gently curving edge at the viewer's feet.
    float shore = 2.7 + 0.25 * sin(p.x * 0.7 + 1.0) + 0.12 * sin(p.x * 2.3);
    float beyond = length(p.xz) - shore;
    float on_shore = smoothstep(footprint, -footprint, beyond);
    vec3 ground = vec3(0.0011, 0.0015, 0.0013) * (0.8 + 0.4 * noise2(p.xz * 3.0));
    if (on_shore >= 1.0) return ground;
    // Barely moving cat's-paws: a slight tilt of the surface, lost where the pixel is too coarse.
    vec2 q = p.xz;
    float kept = 1.0 - smoothstep(0.3, 1.2, footprint / 1.5);
    vec2 slope = kept * 0.018 * mix(1.0, 0.6, u_calm) * vec2(
        noise2(q * vec2(0.35, 1.1) + vec2(0.0, u_time * 0.06)) - 0.5,
        noise2(q * vec2(0.35, 1.1) + vec2(7.3, u_time * 0.05)) - 0.5);
    vec3 n = normalize(vec3(-slope.x, 1.0, -slope.y));
    vec3 r = reflect(d, n);
    r.y = max(abs(r.y), 0.0005);
    float cos_view = clamp(dot(-d, n), 0.0, 1.0);
    float fresnel = 0.03 + 0.97 * pow(1.0 - cos_view, 5.0);
    float land_cover;
    vec3 land_col = land(r, land_cover);
    vec3 mirrored = sky_gradient(r) + milky_way(r);
    if (land_cover < 1.0) mirrored += aurora(r, MIRRORED_AURORA_STEPS);
    mirrored = mix(mirrored, land_col, land_cover);
    vec3 body = vec3(0.0004, 0.0006, 0.0010);
    vec3 water = mix(body, mirrored * 0.8, fresnel);
    return mix(water, ground, on_shore);
}

void main() {
    vec4 far_point = u_inv_view_proj * vec4(v_ndc, 1.0, 1.0);
    vec3 d = normalize(far_point.xyz / far_point.w - u_eye_pos);
    g_pixel_angle = length(fwidth(d)) * 0.7;
    g_breath = smoothstep(0.0, 1.0, clamp(u_breath, 0.0, 1.0));
    // Interleaved gradient noise, fixed per pixel: the march's grain is fine and does not crawl.
    g_jitter = fract(52.9829189 * fract(dot(gl_FragCoord.xy, vec2(0.06711056, 0.00583715))));

    vec3 col;
    if (d.y < 0.0) {
        col = lake(d);
    } else {
        float land_cover;
        vec3 land_col = land(d, land_cover);
        col = land_cover < 1.0 ? (1.0 - land_cover) * night_sky(d) : vec3(0.0);
        col += land_cover * land_col;
    }

    col = 1.0 - exp(-col * 1.2);
    col = pow(col, vec3(1.0 / 2.2));
    float dither = (hash12(gl_FragCoord.xy + fract(u_time) * 91.0) - 0.5) / 255.0;
    frag_color = vec4(max(col + dither, 0.0) * clamp(u_fade, 0.0, 1.0), 1.0);
}
