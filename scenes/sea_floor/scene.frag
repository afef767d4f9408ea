#version 330 core
// Sea floor: clear shallow water over rippled sand. World: +Y up, the eye at y = 1.8; the sand lies
// 3.5 m below the eye. Sunlight enters through the surface along LIGHT_DIR and is focused by its
// waves into caustics that drift across the sand; they swell softly with the breath.
in vec2 v_ndc;
out vec4 frag_color;

uniform float u_time;
uniform float u_breath;
uniform float u_calm;
uniform float u_fade;
uniform mat4 u_inv_view_proj;
uniform vec3 u_eye_pos;
uniform vec3 u_head_pos;
uniform vec3 u_rest_forward;
uniform vec2 u_resolution;

const float FLOOR_Y = -1.7;
const vec3 LIGHT_DIR = vec3(0.3857, -0.8571, 0.3428);  // sunlight under water, travelling down
const vec3 EXTINCTION = vec3(0.19, 0.056, 0.050);        // per metre: red fades first
const vec3 SUN = vec3(1.0, 0.95, 0.84);
const float EXPOSURE = 0.10;  // the whole scene is dim: a calm, shaded light
const int STONES = 9;
const float CAUSTIC_CELL_A = 0.75;  // metres across one cell of each caustic net
const float CAUSTIC_CELL_B = 0.52;
const int SHAFT_STEPS = 4;
const float SNOW_CELL = 0.7;  // metres; one or two motes of marine snow per cell
const int SNOW_STEPS = 8;  // enough cells to cross SNOW_RANGE along any direction
const float SNOW_RANGE = 3.2;  // farther motes are lost in the water anyway; they fade out before it

// Set once per pixel in main().
float g_pixel_angle;
float g_breath;
float g_surface_y;

// Rounded stones half sunk in the sand: (x, z, radius across, height). The first ones lie under the
// face cradle, the rest ahead of a seated viewer.
const vec4 STONE[STONES] = vec4[STONES](
    vec4(-1.15, 0.55, 0.30, 0.24), vec4(-0.78, 0.92, 0.15, 0.12), vec4(1.55, -1.05, 0.36, 0.27),
    vec4(0.35, 1.75, 0.19, 0.15), vec4(2.95, 1.25, 0.24, 0.19), vec4(-2.7, -1.5, 0.30, 0.23),
    vec4(-1.6, -7.0, 0.55, 0.34), vec4(2.3, -9.8, 0.70, 0.42), vec4(0.5, -5.6, 0.28, 0.17));

float hash12(vec2 p) {
    vec3 p3 = fract(vec3(p.xyx) * 0.1031);
    p3 += dot(p3, p3.yzx + 33.33);
    return fract((p3.x + p3.y) * p3.z);
}

vec2 hash22(vec2 p) {
    vec3 p3 = fract(vec3(p.xyx) * vec3(0.1031, 0.1030, 0.0973));
    p3 += dot(p3, p3.yzx + 33.33);
    return fract((p3.xx + p3.yz) * p3.zy);
}

vec4 hash43(vec3 p) {
    vec4 p4 = fract(vec4(p.xyzx) * vec4(0.1031, 0.1030, 0.0973, 0.1099));
    p4 += dot(p4, p4.wzxy + 33.33);
    return fract((p4.xxyz + p4.yzzw) * p4.zywx);
}

float noise(vec2 x) {
    vec2 i = floor(x);
    vec2 f = fract(x);
    vec2 u = f * f * (3.0 - 2.0 * f);
    float a = hash12(i);
    float b = hash12(i + vec2(1.0, 0.0));
    float c = hash12(i + vec2(0.0, 1.0));
    float d = hash12(i + vec2(1.0, 1.0));
    return mix(mix(a, b, u.x), mix(c, d, u.x), u.y);
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

// Two octaves: everything it shapes is soft and seen dimly.
float fbm(vec2 p) {
    return (0.5 * noise(p) + 0.25 * noise(mat2(0.8, -0.6, 0.6, 0.8) * p * 2.03 + 1.7)) / 0.75;
}

// One layer of caustic light: bright lines where neighbouring cells of slowly wandering points meet,
// the way a wavy surface gathers light into a net. `width` in cell units; `blur` is the pixel's size
// in cell units, widening the line and lowering its peak so its light is kept and nothing shimmers.
float caustic_layer(vec2 p, float t, float width, float blur) {
    vec2 cell = floor(p);
    vec2 f = fract(p);
    float f1 = 8.0;
    float f2 = 8.0;
    for (int j = -1; j <= 1; j++) {
        for (int i = -1; i <= 1; i++) {
            vec2 o = vec2(float(i), float(j));
            vec2 h = hash22(cell + o);
            vec2 point = o + 0.5 + 0.36 * sin(t * (0.20 + 0.16 * h) + 6.2831 * h);
            float dist = length(point - f);
            if (dist < f1) {
                f2 = f1;
                f1 = dist;
            } else if (dist < f2) {
                f2 = dist;
            }
        }
    }
    float w = sqrt(width * width + blur * blur);
    float x = (f2 - f1) / w;
    return (width / w) * exp(-x * x);
}

// Caustic light reaching a point whose ray toward the surface meets it at `surface_xz`; mean ~1.
float caustics(vec2 surface_xz, float footprint) {
    float t = u_time;
    float width = mix(0.055, 0.095, g_breath) * mix(1.0, 1.25, u_calm);
    float mean = 0.75 * width / 0.067;  // the lines' average, toward which distant sand settles
    float fine = 1.0 - smoothstep(0.10, 0.45, footprint / CAUSTIC_CELL_B);
    if (fine <= 0.0) return 0.62 + 1.15 * mean;
    vec2 warp = 0.36 * vec2(noise(surface_xz * 0.8 + 0.04 * t), noise(surface_xz * 0.8 + 4.1 - 0.03 * t));
    vec2 p1 = (surface_xz + warp) / CAUSTIC_CELL_A + vec2(0.021, 0.013) * t;
    vec2 p2 = (surface_xz - warp) / CAUSTIC_CELL_B * mat2(0.8, -0.6, 0.6, 0.8) - vec2(0.017, 0.024) * t;
    float c1 = caustic_layer(p1, t, width, footprint / CAUSTIC_CELL_A);
    float c2 = caustic_layer(p2, t * 1.13 + 7.0, width, footprint / CAUSTIC_CELL_B);
    float c = 0.35 * (c1 + c2) + 2.2 * c1 * c2;  // brightest where the two nets cross
    // Broad, slow patches where the surface focuses more light.
    c *= 0.35 + 1.3 * noise(surface_xz * 0.40 + vec2(0.011, -0.008) * t);
    c = mix(mean, c, fine);
    return 0.62 + 1.15 * c;
}

vec2 surface_point(vec3 p) {
    return p.xz + LIGHT_DIR.xz * ((g_surface_y - p.y) / LIGHT_DIR.y);
}

vec3 sunlight_at(vec3 p) {
    float path = max(g_surface_y - p.y, 0.0) / -LIGHT_DIR.y;
    return SUN * exp(-EXTINCTION * path) * mix(0.86, 1.0, g_breath);
}

// Slope (d/dx, d/dz) of the sand: long low swells and wind-like ripples ~13 cm apart. The ripples'
// slope is taken analytically (the slow bend and fade of their crests left out), so the normal needs
// no extra samples.
vec2 sand_slope(vec2 p, float footprint) {
    vec2 swell = 0.10 * 0.25 * noised(p * 0.25).yz;
    float kept = 1.0 - smoothstep(0.10, 0.3, footprint / 0.13);
    if (kept <= 0.0) return swell;
    float bend = 1.6 * fbm(p * 0.35 + 3.0);
    vec2 wave = vec2(0.94, 0.34) * (6.2831 / 0.13);
    float phase = dot(p, wave) + bend * 9.0;
    float fade = smoothstep(0.15, 0.8, noise(p * 0.6));
    return swell + kept * 0.009 * fade * (cos(phase) + 0.5 * cos(2.0 * phase + 1.3)) * wave;
}

// Nearest hit with a stone along the ray: (distance, stone index), distance 1e9 when none.
vec2 hit_stones(vec3 o, vec3 d) {
    vec2 best = vec2(1e9, -1.0);
    for (int i = 0; i < STONES; i++) {
        vec3 radii = STONE[i].zwz;
        vec3 c = vec3(STONE[i].x, FLOOR_Y + 0.05 + 0.25 * STONE[i].w, STONE[i].y);
        vec3 oc = (o - c) / radii;
        vec3 dd = d / radii;
        float a = dot(dd, dd);
        float b = dot(oc, dd);
        float k = dot(oc, oc) - 1.0;
        float disc = b * b - a * k;
        if (disc < 0.0) continue;
        float t = (-b - sqrt(disc)) / a;
        if (t > 0.0 && t < best.x) best = vec2(t, float(i));
    }
    return best;
}

// Soft shadows and contact shade of the stones on the sand at `p`.
float stone_shade(vec3 p) {
    float light = 1.0;
    for (int i = 0; i < STONES; i++) {
        vec3 c = vec3(STONE[i].x, FLOOR_Y + 0.05 + 0.25 * STONE[i].w, STONE[i].y);
        float r = STONE[i].z;
        vec3 toward_sun = -LIGHT_DIR;
        float along = max(dot(c - p, toward_sun), 0.0);
        vec3 offset = p + toward_sun * along - c;
        if (dot(offset, offset) > 2.0 * r * r && along > 2.0 * r) continue;  // neither shadow nor contact shade here
        float miss = length(offset);
        light *= mix(1.0, smoothstep(0.45 * r, 1.25 * r, miss), 0.8);
        float gap = length((p.xz - c.xz) / r);
        float x = max(gap - 0.9, 0.0) * 3.0;
        light *= 1.0 - 0.22 * exp(-x * x);
    }
    return light;
}

vec3 shade_sand(vec3 p, float footprint) {
    vec2 slope = sand_slope(p.xz, footprint);
    vec3 n = normalize(vec3(-slope.x, 1.0, -slope.y));
    float patches = fbm(p.xz * 0.6 + 11.0);
    float grain_kept = 1.0 - smoothstep(0.004, 0.02, footprint);
    float grain = mix(0.5, hash12(floor(p.xz * 220.0)), grain_kept);
    vec3 albedo = mix(vec3(0.84, 0.76, 0.60), vec3(0.66, 0.60, 0.49), smoothstep(0.35, 0.75, patches));
    albedo *= 0.88 + 0.24 * grain;
    albedo *= 1.0 - 0.18 * smoothstep(0.64, 0.85, noise(p.xz * 1.4 - 5.0));  // darker drifts of detritus
    float direct = max(dot(n, -LIGHT_DIR), 0.0);
    vec3 sun = sunlight_at(p) * caustics(surface_point(p), footprint) * stone_shade(p);
    vec3 sky = vec3(0.025, 0.075, 0.11) * (0.6 + 0.4 * n.y);
    return albedo * (sun * direct * 0.55 + sky);
}

vec3 shade_stone(vec3 p, int i, float footprint) {
    vec3 radii = STONE[i].zwz;
    vec3 c = vec3(STONE[i].x, FLOOR_Y + 0.05 + 0.25 * STONE[i].w, STONE[i].y);
    vec3 n = normalize((p - c) / (radii * radii));
    float mottle = fbm(p.xz * 6.0 + p.y * 4.0 + float(i) * 3.7);
    vec3 albedo = mix(vec3(0.50, 0.47, 0.43), vec3(0.86, 0.80, 0.70), mottle);
    albedo *= 0.85 + 0.3 * noise(p.xz * 40.0 + p.y * 17.0);
    albedo = mix(albedo, vec3(0.12, 0.20, 0.10), 0.45 * smoothstep(0.3, 0.9, n.y) * smoothstep(0.5, 0.7, mottle));
    float direct = pow(max(dot(n, -LIGHT_DIR) * 0.85 + 0.15, 0.0), 1.6);  // wrapped: rounded, softly lit
    float foot = smoothstep(0.0, 0.35 * STONE[i].w, p.y - FLOOR_Y);  // darker where it meets the sand
    vec3 sun = sunlight_at(p) * mix(1.0, caustics(surface_point(p), footprint), 0.6);
    vec3 sky = vec3(0.025, 0.075, 0.11) * (0.45 + 0.55 * n.y);
    return albedo * (sun * direct * 0.55 + sky) * (0.85 + 0.15 * foot);
}

// Light the water itself sends back along the ray from far away: brighter toward the surface.
vec3 water_glow(vec3 d) {
    float up = d.y;
    vec3 deep = vec3(0.005, 0.030, 0.055);
    vec3 lit = vec3(0.040, 0.190, 0.210);
    vec3 col = mix(deep, lit, smoothstep(-0.7, 0.9, up));
    float toward_sun = max(dot(d, -LIGHT_DIR), 0.0);
    col += vec3(0.03, 0.08, 0.07) * pow(toward_sun, 6.0);
    return col * mix(0.9, 1.0, g_breath);
}

// Shafts of light: sun through the slowly moving surface, along the light's direction.
float shafts(vec3 q) {
    vec2 s = surface_point(q);
    return smoothstep(0.30, 0.90, noise(s * 0.9 + vec2(0.015, 0.01) * u_time));
}

vec3 marine_snow(vec3 d, float far) {
    vec3 drift = vec3(0.011, -0.007, 0.006) * u_time;
    vec3 o = u_eye_pos - drift;  // the grid carries the snow with the current
    vec3 cell = floor(o / SNOW_CELL);
    vec3 dir_step = sign(d);
    vec3 safe_d = max(abs(d), vec3(1e-5));
    vec3 t_delta = SNOW_CELL / safe_d;
    vec3 t_max = ((cell + max(dir_step, 0.0)) * SNOW_CELL - o) / (d + (1.0 - abs(dir_step)) * 1e-5);
    t_max = mix(t_max, vec3(1e9), lessThan(abs(d), vec3(1e-5)));
    float limit = min(far, SNOW_RANGE);
    vec3 light = vec3(0.0);
    float t_cell = 0.0;
    for (int i = 0; i < SNOW_STEPS; i++) {
        if (t_cell > limit) break;
        vec4 h = hash43(cell);  // one mote per cell
        vec3 wobble = 0.06 * sin(u_time * (0.09 + 0.07 * h.xyz) + 6.2831 * h.zxy);
        vec3 p = (cell + 0.18 + 0.64 * h.xyz) * SNOW_CELL + wobble * SNOW_CELL;
        float along = dot(p - o, d);
        float miss = length(o + d * along - p);
        float size = 0.0015 + 0.002 * h.w * h.w;
        float width = max(size, along * g_pixel_angle);
        float sun_path = max(g_surface_y - p.y - drift.y, 0.0) / -LIGHT_DIR.y;
        vec3 lit = SUN * 0.7 * mix(0.86, 1.0, g_breath) * exp(-EXTINCTION * (sun_path + along))
                 + vec3(0.04, 0.12, 0.12) * exp(-EXTINCTION * along);
        float kept = step(0.35, along) * step(along, far) * smoothstep(SNOW_RANGE, 0.6 * SNOW_RANGE, along);
        light += kept * lit * (size * size) / (width * width) * exp(-miss * miss / (width * width));
        t_cell = min(t_max.x, min(t_max.y, t_max.z));
        vec3 pick = step(t_max.xyz, vec3(t_cell));
        cell += pick * dir_step;
        t_max += pick * t_delta;
    }
    return light;
}

void main() {
    vec4 far_point = u_inv_view_proj * vec4(v_ndc, 1.0, 1.0);
    vec3 d = normalize(far_point.xyz / far_point.w - u_eye_pos);
    g_pixel_angle = length(fwidth(d)) * 0.7;
    g_breath = smoothstep(0.0, 1.0, clamp(u_breath, 0.0, 1.0));
    // Lying face-down the face rests just under the surface; seated, the viewer hovers deeper.
    float seated = smoothstep(-0.5, 0.0, u_rest_forward.y);
    g_surface_y = u_head_pos.y + mix(0.25, 2.5, seated);

    // What the ray meets: sand, a stone, or open water.
    float t_floor = d.y < -1e-4 ? (FLOOR_Y - u_eye_pos.y) / d.y : 1e9;
    vec2 stone = hit_stones(u_eye_pos, d);
    float t_hit = min(t_floor, stone.x);
    vec3 surface_col = vec3(0.0);
    if (t_hit < 200.0) {
        vec3 p = u_eye_pos + d * t_hit;
        float footprint = t_hit * g_pixel_angle / max(abs(d.y), 0.05);
        surface_col = stone.x < t_floor ? shade_stone(p, int(stone.y), t_hit * g_pixel_angle) : shade_sand(p, footprint);
    }
    vec3 transmit = exp(-EXTINCTION * min(t_hit, 200.0));

    // Light scattered by the water along the ray, in shafts.
    float span = min(t_hit, 14.0);
    if (d.y > 0.0) span = min(span, (g_surface_y - u_eye_pos.y) / d.y);
    float shaft_sum = 0.0;
    float weight_sum = 0.0;
    for (int i = 0; i < SHAFT_STEPS; i++) {
        float s = span * (float(i) + 0.5) / float(SHAFT_STEPS);
        float w = exp(-0.09 * s);
        shaft_sum += w * shafts(u_eye_pos + d * s);
        weight_sum += w;
    }
    float shaft = shaft_sum / weight_sum;
    vec3 glow = water_glow(d) * (0.45 + mix(0.9, 1.2, g_breath) * shaft * mix(1.0, 0.8, u_calm));

    vec3 col = surface_col * transmit + glow * (1.0 - transmit);
    col += marine_snow(d, t_hit);

    col *= EXPOSURE;
    col = 1.0 - exp(-col * 1.1);
    col = pow(col, vec3(1.0 / 2.2));
    float dither = (hash12(gl_FragCoord.xy + fract(u_time) * 91.0) - 0.5) / 255.0;
    frag_color = vec4(max(col + dither, 0.0) * clamp(u_fade, 0.0, 1.0), 1.0);
}
