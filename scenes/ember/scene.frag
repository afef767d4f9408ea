#version 330 core
// Ember: a soft warm orb in a near-dark haze, placed relative to the resting body
// (u_rest_forward / u_rest_up), so it floats in front of and a little below the face in any posture.
in vec2 v_ndc;
out vec4 frag_color;

uniform float u_time;
uniform float u_breath;
uniform float u_calm;
uniform float u_fade;
uniform mat4 u_inv_view_proj;
uniform vec3 u_eye_pos;
uniform vec3 u_head_pos;  // between the eyes: body-relative things are placed from here
uniform vec3 u_rest_forward;
uniform vec3 u_rest_up;
uniform vec2 u_resolution;

const float PI = 3.14159265;
const int MOTES = 10;

float hash12(vec2 p) {
    vec3 p3 = fract(vec3(p.xyx) * 0.1031);
    p3 += dot(p3, p3.yzx + 33.33);
    return fract((p3.x + p3.y) * p3.z);
}

vec3 hash31(float n) {
    vec3 p3 = fract(vec3(n) * vec3(0.1031, 0.1030, 0.0973));
    p3 += dot(p3, p3.yzx + 33.33);
    return fract((p3.xxy + p3.yzz) * p3.zyx);
}

// Light scattered toward the eye by an even haze lit by a point light at `c`, along the ray from
// `o` in direction `d` up to distance `far`: the closed form of the integral of 1 / distance^2.
float in_scatter(vec3 o, vec3 d, vec3 c, float radius, float far) {
    float s = dot(c - o, d);
    float h = max(length(o + d * s - c), 0.6 * radius);  // the orb itself is drawn separately
    return (atan((far - s) / h) + atan(s / h)) / h;
}

void main() {
    vec4 far_point = u_inv_view_proj * vec4(v_ndc, 1.0, 1.0);
    vec3 d = normalize(far_point.xyz / far_point.w - u_eye_pos);
    vec3 right = normalize(cross(u_rest_forward, u_rest_up));
    float breath = clamp(u_breath, 0.0, 1.0);
    // Never scale time by calm: a speed that changes late in a session makes the motion race.
    const float slow = 0.8;

    // The orb drifts a few centimetres over tens of seconds.
    vec3 drift = right * 0.05 * sin(u_time * 0.071 * slow) + u_rest_up * 0.035 * sin(u_time * 0.053 * slow + 1.3);
    vec3 center = u_head_pos + u_rest_forward * 2.2 - u_rest_up * 0.30 + drift;
    float radius = mix(0.19, 0.30, breath);
    float power = mix(0.55, 1.0, breath) * mix(1.0, 0.85, u_calm);

    vec3 ember = mix(vec3(1.0, 0.38, 0.13), vec3(1.0, 0.30, 0.08), u_calm);
    vec3 core_tint = vec3(1.0, 0.62, 0.32);

    // Faint warm darkness, a little lighter toward the feet.
    float below = dot(d, -u_rest_up) * 0.5 + 0.5;
    vec3 col = vec3(0.0014, 0.0007, 0.0005) * (0.5 + 1.0 * below);

    // Haze around the orb.
    col += ember * power * 0.0009 * in_scatter(u_eye_pos, d, center, radius, 12.0);

    // The orb: a soft-edged glowing body, brighter and whiter toward its middle.
    float s = dot(center - u_eye_pos, d);
    float h = length(u_eye_pos + d * s - center);
    float h2 = (h * h) / (radius * radius);
    float body = exp(-2.0 * h2);
    float core = body * body * body;
    float flicker = 0.94 + 0.06 * (1.0 - 0.5 * u_calm) * sin(u_time * 0.37 * slow) * sin(u_time * 0.23 * slow + 2.0);
    col += ember * power * 0.13 * body * flicker;
    col += core_tint * power * 0.16 * core * flicker;

    // Motes drifting slowly through the light, brighter the nearer they are to the orb.
    for (int i = 0; i < MOTES; i++) {
        vec3 r = hash31(float(i) * 7.13 + 1.0);
        vec3 home = center + (right * (r.x - 0.5) * 2.4 + u_rest_up * (r.y - 0.5) * 1.6
                              + u_rest_forward * (r.z - 0.5) * 1.6);
        float phase = u_time * (0.05 + 0.04 * r.z) * slow + r.x * 20.0;
        vec3 p = home + u_rest_up * 0.25 * sin(phase) + right * 0.18 * sin(phase * 0.7 + r.y * 9.0);
        float along = dot(p - u_eye_pos, d);
        if (along <= 0.0) continue;
        float miss = length(u_eye_pos + d * along - p);
        float size = 0.006 + 0.004 * r.y;
        float width = max(size, along * 1.5 / u_resolution.y);  // at least about a pixel wide
        float lit = 1.0 / (1.0 + 6.0 * dot(p - center, p - center));
        col += ember * power * 0.30 * lit * (size * size) / (width * width) * exp(-(miss * miss) / (width * width));
    }

    col = 1.0 - exp(-col * 1.2);
    col = pow(col, vec3(1.0 / 2.2));
    float dither = (hash12(gl_FragCoord.xy + fract(u_time) * 91.0) - 0.5) / 255.0;
    frag_color = vec4(max(col + dither, 0.0) * clamp(u_fade, 0.0, 1.0), 1.0);
}
