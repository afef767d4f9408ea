#version 330 core
// Dusk ocean: a per-pixel 3D world seen along the view ray. World: +Y up, sea plane y = 0,
// the low sun straight ahead along -Z. Everything moves slowly; nothing flashes.
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
const vec3 SUN_DIR = vec3(0.0, 0.0157, -0.99988);  // about 0.9 degrees above the horizon
const float WAVE_TIME_SCALE = 0.35;  // slower than real deep-water waves: dreamlike, calm

// Set once per pixel in main().
vec3 g_sun_color;
float g_sun_intensity;
float g_sun_radius;
float g_pixel_angle;

float hash12(vec2 p) {
    vec3 p3 = fract(vec3(p.xyx) * 0.1031);
    p3 += dot(p3, p3.yzx + 33.33);
    return fract((p3.x + p3.y) * p3.z);
}

vec4 hash43(vec3 p) {
    vec4 p4 = fract(vec4(p.xyzx) * vec4(0.1031, 0.1030, 0.0973, 0.1099));
    p4 += dot(p4, p4.wzxy + 33.33);
    return fract((p4.xxyz + p4.yzzw) * p4.zywx);
}

// Value noise with its gradient: (value, d/dx, d/dy).
vec3 noised(vec2 x) {
    vec2 i = floor(x);
    vec2 f = fract(x);
    vec2 u = f * f * (3.0 - 2.0 * f);
    vec2 du = 6.0 * f * (1.0 - f);
    float a = hash12(i);
    float b = hash12(i + vec2(1.0, 0.0));
    float c = hash12(i + vec2(0.0, 1.0));
    float d = hash12(i + vec2(1.0, 1.0));
    float k = a - b - c + d;
    return vec3(a + (b - a) * u.x + (c - a) * u.y + k * u.x * u.y,
                du * (vec2(b - a, c - a) + k * u.yx));
}

float fbm(vec2 p) {
    float sum = 0.0;
    float amp = 0.5;
    mat2 turn = mat2(0.8, -0.6, 0.6, 0.8);
    for (int i = 0; i < 3; i++) {  // three octaves, scaled to the range four used to reach
        sum += amp * noised(p).x;
        p = turn * p * 2.03 + 1.7;
        amp *= 0.5;
    }
    return sum * (0.9375 / 0.875);
}

// The sky's colour without the sun, clouds or stars: gold at the horizon, rose, violet, indigo.
vec3 sky_gradient(vec3 d) {
    float e = max(d.y, 0.0);
    vec3 zenith = vec3(0.004, 0.006, 0.024);
    vec3 violet = vec3(0.030, 0.024, 0.070);
    vec3 rose = mix(vec3(0.13, 0.055, 0.080), vec3(0.15, 0.055, 0.060), u_calm);
    vec3 gold = mix(vec3(0.26, 0.13, 0.060), vec3(0.30, 0.13, 0.040), u_calm);
    vec3 col = mix(violet, zenith, smoothstep(0.15, 1.0, e));
    col = mix(col, rose, exp(-e * 9.0));
    col = mix(col, gold, exp(-e * 30.0));

    // Warm afterglow spread along the horizon around the sun's bearing.
    float bearing = dot(normalize(d.xz + vec2(1e-5)), normalize(SUN_DIR.xz)) * 0.5 + 0.5;
    col += g_sun_color * (0.09 + 0.07 * g_sun_intensity) * pow(bearing, 4.0) * exp(-e * 6.0);
    col *= 0.55 + 0.45 * pow(bearing, 1.5);  // the sky away from the sun is already darker
    return col;
}

// The breathing sun: wide halo, inner halo and a soft disc.
vec3 sun_light(vec3 d) {
    float angle = acos(clamp(dot(d, SUN_DIR), -1.0, 1.0));
    float softness = mix(1.0, 1.5, u_calm);
    vec3 col = g_sun_color * g_sun_intensity * 0.10 * exp(-angle / (0.12 * softness));
    col += g_sun_color * g_sun_intensity * 0.32 * exp(-angle / (0.025 * softness));
    float edge = max(g_pixel_angle, 0.22 * g_sun_radius * softness);
    float disc = smoothstep(g_sun_radius + edge, g_sun_radius - edge, angle);
    col += mix(g_sun_color, vec3(1.0, 0.80, 0.58), 0.55) * g_sun_intensity * 0.85 * disc;
    return col;
}

// The sun's path on the water: its reflection widened by the waves this pixel cannot resolve.
vec3 sun_glitter(vec3 r, float rough) {
    float angle = acos(clamp(dot(r, SUN_DIR), -1.0, 1.0));
    float lobe = g_sun_radius + 0.012 + 1.4 * rough;
    return g_sun_color * g_sun_intensity * 0.9 * exp(-0.5 * angle * angle / (lobe * lobe));
}

vec3 stars(vec3 d) {
    vec3 light = vec3(0.0);
    for (int layer = 0; layer < 2; layer++) {
        float scale = layer == 0 ? 45.0 : 85.0;
        vec3 cell = floor(d * scale);
        vec4 h = hash43(cell + float(layer) * 31.7);
        if (h.x < (layer == 0 ? 0.93 : 0.90)) continue;
        vec3 star = normalize(cell + 0.25 + 0.5 * h.yzw);
        if (any(notEqual(floor(star * scale), cell))) continue;  // shown only by the cell it sits in
        float size = 0.0007;
        float sigma = max(size, 0.55 * g_pixel_angle);
        float dist = length(d - star);
        float brightness = (layer == 0 ? 0.35 : 0.14) * pow(h.w, 3.0) + 0.02;
        float twinkle = 1.0 - (1.0 - 0.6 * u_calm) * 0.25 * (0.5 + 0.5 * sin(u_time * (0.4 + h.y) + h.z * 40.0));
        vec3 tint = mix(vec3(1.0, 0.86, 0.72), vec3(0.78, 0.86, 1.0), h.z);
        light += tint * brightness * twinkle * (size * size) / (sigma * sigma)
                 * exp(-0.5 * dist * dist / (sigma * sigma));
    }
    return light;
}

// Thin high clouds lit pink from below by the sun; returns (colour, coverage).
vec4 clouds(vec3 d) {
    if (d.y < 0.02) return vec4(0.0);
    vec2 p = d.xz / d.y * 0.45 + vec2(0.0035, 0.0012) * u_time;
    p = vec2(p.x * 0.6, p.y * 1.6);  // stretched into streaks
    float density = fbm(p * 1.3 + vec2(3.0, 11.0));
    float cover = smoothstep(0.50, 0.78, density) * smoothstep(0.02, 0.25, d.y);
    float bearing = dot(normalize(d.xz + vec2(1e-5)), normalize(SUN_DIR.xz)) * 0.5 + 0.5;
    float lit = pow(bearing, 2.0) * exp(-d.y * 1.5);
    vec3 shade = vec3(0.030, 0.022, 0.040);
    vec3 col = shade + g_sun_color * vec3(1.0, 0.62, 0.72) * (0.05 + 0.13 * lit) * (0.7 + 0.3 * g_sun_intensity);
    return vec4(col, cover * 0.8);
}

vec3 sky(vec3 d) {
    vec3 col = sky_gradient(d) + sun_light(d);
    float star_view = smoothstep(0.10, 0.55, d.y);
    if (star_view > 0.0) col += star_view * stars(d);
    vec4 cloud = clouds(d);
    return mix(col, cloud.rgb, cloud.a);
}

// Slope of the sea at `p`; `rough` collects the slope variance filtered out at this pixel's footprint.
vec2 sea_slope(vec2 p, float footprint, out float rough) {
    // direction (radians from +Z, toward the viewer), wavelength m, steepness (slope amplitude)
    const vec3 waves[11] = vec3[11](
        vec3(0.05, 23.0, 0.045), vec3(0.55, 11.0, 0.040), vec3(-0.60, 6.3, 0.040),
        vec3(0.95, 3.1, 0.035), vec3(-1.15, 1.7, 0.035), vec3(0.25, 0.93, 0.040),
        vec3(1.93, 0.67, 0.045), vec3(-1.37, 0.49, 0.045), vec3(2.71, 0.38, 0.040),
        vec3(-0.31, 0.31, 0.035), vec3(1.13, 0.21, 0.030));
    float chop = mix(1.0, 0.55, u_calm);  // calmer: the short, busy waves settle
    vec2 slope = vec2(0.0);
    float variance = 0.0004;
    for (int i = 0; i < 11; i++) {
        float length_m = waves[i].y;
        float steep = waves[i].z * (length_m < 4.0 ? chop : 1.0);
        float kept = 1.0 - smoothstep(0.15, 0.5, footprint / length_m);
        variance += 0.5 * steep * steep * (1.0 - kept * kept);
        if (kept <= 0.0) continue;
        vec2 dir = vec2(sin(waves[i].x), cos(waves[i].x));
        float k = 2.0 * PI / length_m;
        float omega = sqrt(9.81 * k) * WAVE_TIME_SCALE;
        slope += kept * steep * dir * cos(k * dot(dir, p) - omega * u_time + float(i) * 1.7);
    }
    // Irregular fine ripples from gradient noise, drifting slowly: they break up the sines' regular grid.
    float ripple_kept = 1.0 - smoothstep(0.15, 0.5, footprint / 0.5);
    variance += 0.5 * 0.06 * 0.06 * chop * chop * (1.0 - ripple_kept * ripple_kept);
    if (ripple_kept > 0.0) {
        vec2 q = p * 1.7 + vec2(0.04, 0.11) * u_time;
        q += 0.6 * sin(q.yx * 0.37 + vec2(0.0, 5.2));  // a cheap bend: breaks up the noise's grid
        slope += ripple_kept * chop * 0.05 * noised(q).yz;
    }
    rough = sqrt(variance);
    return slope;
}

vec3 sea(vec3 d) {
    float t = u_eye_pos.y / max(-d.y, 1e-4);
    vec3 p = u_eye_pos + d * t;
    float footprint = t * g_pixel_angle / max(-d.y, 0.03);
    float rough;
    vec2 slope = sea_slope(p.xz, footprint, rough);
    vec3 n = normalize(vec3(-slope.x, 1.0, -slope.y));

    vec3 r = reflect(d, n);
    r.y = abs(r.y);
    float cos_view = clamp(dot(-d, n), 0.0, 1.0);
    // 0.05 rather than water's 0.02 at normal incidence: looking straight down, the sky's mirror image
    // is what tells the eye that this is water.
    float fresnel = 0.05 + 0.95 * pow(1.0 - cos_view, 5.0);

    // Light scattered up out of the water is warmer on the wave faces turned to the sun.
    vec3 deep = vec3(0.0025, 0.008, 0.015);
    float facing_sun = smoothstep(-0.12, 0.25, dot(n, SUN_DIR));
    vec3 body = deep + g_sun_color * g_sun_intensity * 0.022 * facing_sun;
    vec3 reflected = sky_gradient(r) + sun_glitter(r, rough);
    if (d.y < -0.4) {  // looking down: calm water mirrors the clouds overhead
        vec4 cloud = clouds(r);
        reflected = mix(reflected, cloud.rgb, cloud.a);
    }
    vec3 col = mix(body, reflected, fresnel);

    vec3 horizon_dir = normalize(vec3(d.x, 0.0, d.z));
    float haze = 1.0 - exp(-t * 0.0012);
    return mix(col, sky_gradient(horizon_dir) * 0.85, haze);
}

void main() {
    vec4 far_point = u_inv_view_proj * vec4(v_ndc, 1.0, 1.0);
    vec3 d = normalize(far_point.xyz / far_point.w - u_eye_pos);
    g_pixel_angle = length(fwidth(d)) * 0.7;

    float breath = clamp(u_breath, 0.0, 1.0);
    g_sun_color = mix(vec3(1.0, 0.60, 0.36), vec3(1.0, 0.50, 0.22), u_calm);
    g_sun_intensity = mix(0.55, 1.0, breath) * mix(1.0, 0.9, u_calm);
    g_sun_radius = mix(0.011, 0.018, breath);

    float horizon_blend = smoothstep(-g_pixel_angle, g_pixel_angle, d.y);
    vec3 col = vec3(0.0);
    if (horizon_blend < 1.0) col += (1.0 - horizon_blend) * sea(d);
    if (horizon_blend > 0.0) col += horizon_blend * sky(d);

    col = 1.0 - exp(-col * 1.1);               // soft shoulder: the sun never glares
    col = pow(col, vec3(1.0 / 2.2));
    float dither = (hash12(gl_FragCoord.xy + fract(u_time) * 91.0) - 0.5) / 255.0;
    frag_color = vec4(max(col + dither, 0.0) * clamp(u_fade, 0.0, 1.0), 1.0);
}
